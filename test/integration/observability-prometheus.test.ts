import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

/**
 * promtool (Debian's `prometheus` package) is the reference parser for the config, the rules and
 * PromQL. Where it is missing these checks are skipped locally; in CI (CI=true) the file fails, and
 * `.ci/run` installs it.
 */
const available = spawnSync("promtool", ["--version"]).status === 0;
if (!available && process.env.CI) throw new Error("promtool is missing: .ci/run installs it from Debian's prometheus package");
const promtool = (args: string[]) => {
  const result = spawnSync("promtool", args, { encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
};

describe.skipIf(!available)("observability: Prometheus config, alert rules and dashboard", () => {
  it("is a config promtool accepts, scraping the worker, the DAPI and Restate's node metrics", () => {
    const checked = promtool(["check", "config", "infra/prometheus/prometheus.yml"]);
    expect(checked.status, checked.output).toBe(0);
    expect(checked.output).toMatch(/SUCCESS: 1 rule files found/);
    const config = parse(readFileSync("infra/prometheus/prometheus.yml", "utf8")) as {
      rule_files: string[];
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    expect(config.rule_files).toEqual(["alerts.yml"]);
    const targets = Object.fromEntries(config.scrape_configs.map((job) => [job.job_name, `${job.static_configs[0]!.targets[0]}${job.metrics_path ?? "/metrics"}`]));
    expect(targets).toEqual({ "ddwf-worker": "worker:9464/metrics", "ddwf-dapi": "dapi:3000/metrics", restate: "restate:5122/metrics" });
  });

  it("has alert rules that load and that fire, and stay quiet, as their unit tests say", () => {
    const rules = promtool(["check", "rules", "infra/prometheus/alerts.yml"]);
    expect(rules.status, rules.output).toBe(0);
    const names = (parse(readFileSync("infra/prometheus/alerts.yml", "utf8")) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));
    // The four: stalled workflows, terminal failure rate, dead letters, registration failures.
    expect(names).toEqual(expect.arrayContaining(["DdwfWorkflowsStalled", "DdwfTerminalFailureRateHigh", "DdwfDeadLetters", "DdwfEndpointRegistrationFailing"]));
    const tested = promtool(["test", "rules", "infra/prometheus/alerts.test.yml"]);
    expect(tested.status, tested.output).toBe(0);
    // Every alert has at least one unit test.
    const testFile = readFileSync("infra/prometheus/alerts.test.yml", "utf8");
    expect(names.filter((name) => !testFile.includes(`alertname: ${name}`))).toEqual([]);
  });

  it("has a Grafana dashboard whose every query is valid PromQL", () => {
    const dashboard = JSON.parse(readFileSync("infra/grafana/ddwf-dashboard.json", "utf8")) as { panels: { title: string; targets: { expr: string }[] }[] };
    const titles = dashboard.panels.map((panel) => panel.title.toLowerCase());
    for (const topic of ["active workflows by type and state", "queue depth per transactionprocessor key", "completion rate", "latency"]) {
      expect(titles.some((title) => title.includes(topic)), topic).toBe(true);
    }
    // promtool parses PromQL only inside rule files: each panel query becomes a recording rule.
    const rules = dashboard.panels.flatMap((panel, p) => panel.targets.map((target, t) => ({ record: `dashboard:panel_${p}_${t}`, expr: target.expr })));
    const dir = mkdtempSync(join(tmpdir(), "ddwf-dashboard-"));
    try {
      const file = join(dir, "dashboard-rules.yml");
      writeFileSync(file, JSON.stringify({ groups: [{ name: "dashboard", rules }] }));
      const checked = promtool(["check", "rules", file]);
      expect(checked.status, checked.output).toBe(0);
      expect(checked.output).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
