/**
 * The cluster's configuration, checked against the real binaries: restate-server 1.7 ignores keys
 * it does not know, so every key of infra/cluster/restate-cluster.toml and every per-node variable
 * must come back from `restate-server --dump-config` with the value we set; and HAProxy must accept
 * the configuration the launcher writes.
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { findHaproxy, HAPROXY_MISSING, renderHaproxyConfig } from "../../infra/cluster/haproxy.ts";
import { DEFAULT_NODE_PORTS, planRestateNodes, RESTATE_CLUSTER_CONFIG_FILE } from "../../infra/cluster/restate-nodes.ts";
import { restateServerBinary } from "../../infra/local/binaries.ts";
import { readFileSync } from "node:fs";

const run = promisify(execFile);

type Setting = { section: string; key: string; value: string };

/** Flat `key = value` settings per `[section]` of a TOML file (arrays joined onto one line). */
function settingsOf(toml: string): Setting[] {
  const settings: Setting[] = [];
  let section = "";
  let open: Setting | undefined;
  for (const raw of toml.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (open) {
      open.value += line;
      if (line.startsWith("]")) {
        settings.push(open);
        open = undefined;
      }
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const pair = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line);
    if (!pair) continue;
    const setting = { section, key: pair[1]!, value: pair[2]! };
    if (setting.value === "[") open = setting;
    else settings.push(setting);
  }
  return settings.map((setting) => ({ ...setting, value: normalise(setting.value) }));
}

/** `256.0 MiB` and `256 MiB` are the same size; trailing commas in arrays do not matter. */
const normalise = (value: string) => value.replace(/(\d+)\.0(?=\s*[A-Za-z])/g, "$1").replace(/,\]/g, "]").replace(/\s+/g, "");

async function dumpConfig(env: Record<string, string>): Promise<Setting[]> {
  const { stdout } = await run(restateServerBinary(), ["--config-file", RESTATE_CLUSTER_CONFIG_FILE, "--dump-config"], { env: { ...process.env, ...env }, timeout: 15_000 });
  return settingsOf(stdout);
}

const valueIn = (settings: Setting[], section: string, key: string) => settings.find((s) => s.section === section && s.key === key)?.value;

describe("restate-cluster.toml against restate-server --dump-config", () => {
  const keyFile = "/tmp/ddwf-cluster-check/restate-identity/restate-identity.pem";
  const plans = planRestateNodes({ ports: DEFAULT_NODE_PORTS, dataDir: "/tmp/ddwf-cluster-check", logDir: "/tmp/ddwf-cluster-check", requestIdentityKeyFile: keyFile });

  it("comes back from the server with every key and value it sets", async () => {
    const ours = settingsOf(readFileSync(RESTATE_CLUSTER_CONFIG_FILE, "utf8"));
    const dumped = await dumpConfig(plans[0]!.env);

    expect(ours.length).toBeGreaterThan(5);
    const lost = ours.filter((setting) => valueIn(dumped, setting.section, setting.key) !== setting.value);
    expect(lost, "keys the server did not take as written").toEqual([]);
  });

  it("gives each node its name, addresses, the metadata addresses of all three and the one request-identity key, and lets only n1 provision", async () => {
    const fabric = plans.map((plan) => `"${plan.nodeUrl}/"`);
    for (const plan of plans) {
      const dumped = await dumpConfig(plan.env);
      expect(valueIn(dumped, "", "node-name")).toBe(`"${plan.name}"`);
      expect(valueIn(dumped, "", "auto-provision")).toBe(String(plan.provisions));
      expect(valueIn(dumped, "", "advertised-address")).toBe(`"${plan.nodeUrl}/"`);
      expect(valueIn(dumped, "admin", "bind-address")).toBe(`"127.0.0.1:${plan.ports.admin}"`);
      expect(valueIn(dumped, "ingress", "bind-address")).toBe(`"127.0.0.1:${plan.ports.ingress}"`);
      expect(valueIn(dumped, "metadata-client", "addresses")).toBe(`[${fabric.join(",")}]`);
      expect(valueIn(dumped, "", "default-replication")).toBe("2");
      expect(valueIn(dumped, "worker.invoker", "request-identity-private-key-pem-file")).toBe(`"${keyFile}"`);
    }
    expect(plans.filter((plan) => plan.provisions).map((plan) => plan.name)).toEqual(["n1"]);
  });
});

describe.skipIf(!findHaproxy() && !process.env.CI)("the generated HAProxy configuration", () => {
  it("is accepted by haproxy -c", async () => {
    const haproxy = findHaproxy();
    if (!haproxy) throw new Error(HAPROXY_MISSING);
    const file = join(await mkdtemp(join(tmpdir(), "ddwf-haproxy-")), "haproxy.cfg");
    const servers = (base: number) => [1, 2, 3].map((i) => ({ name: `n${i}`, host: "127.0.0.1", port: base + i }));
    await writeFile(
      file,
      renderHaproxyConfig({
        host: "127.0.0.1",
        ingress: { port: 8080, servers: servers(18080) },
        admin: { port: 9070, servers: servers(19070) },
        worker: { port: 9080, servers: servers(9080).slice(0, 2) },
        statsPort: 8404,
      }),
    );

    const { stderr } = await run(haproxy, ["-c", "-f", file]);

    expect(stderr).not.toMatch(/ALERT|WARNING/);
  });
});

const promtoolInstalled = spawnSync("promtool", ["--version"]).status === 0;

describe.skipIf(!promtoolInstalled && !process.env.CI)("the cluster's Prometheus configuration", () => {
  it("is valid for promtool, alert rules included", async () => {
    if (!promtoolInstalled) throw new Error("promtool is missing: .ci/run installs it from Debian's prometheus package");
    const { stdout } = await run("promtool", ["check", "config", "infra/prometheus/prometheus.cluster.yml"]);
    expect(stdout).toMatch(/SUCCESS: infra\/prometheus\/prometheus.cluster.yml is valid/);
  });
});
