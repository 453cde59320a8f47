/**
 * The operator console in a real browser: headless Chromium (Debian's package) driven by
 * playwright-core, against the DAPI served over HTTP on the test stack, with a real worker, Restate
 * and chain behind it. Each view leaves a screenshot in .data/console-screenshots/.
 *
 * Without Chromium the file is skipped locally; under CI=true it fails (`.ci/run` installs it).
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import * as clients from "@restatedev/restate-sdk-clients";
import { eq } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { serveDapi } from "../../admin-api/dapi.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { getDeadLetter, insertDeadLetter } from "../../shared/db/repositories/dead-letters.ts";
import { getTransaction } from "../../shared/db/repositories/transactions.ts";
import { deadLetters } from "../../shared/db/schema/index.ts";
import type { RunningHttpServer } from "../../shared/http/listen.ts";
import { createLogger } from "../../shared/logger.ts";
import { transactionExecutionWorkflow } from "../../services/workflows/transaction-execution/api.ts";
import type { EngineCanaryApi } from "../../services/workflows/engine-canary/api.ts";
import { findChromium, launchChromium } from "../helpers/browser.ts";
import { startDapiHarness, type DapiHarness } from "../helpers/dapi-harness.ts";
import { createInvocationTools } from "../helpers/restate-invocations.ts";
import { startRpcProxy, type RpcProxy } from "../helpers/rpc-proxy.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

const chromiumPath = findChromium();
if (!chromiumPath && process.env.CI) throw new Error("chromium is missing: .ci/run installs it from Debian's chromium package");

const SCREENSHOTS = resolve(".data/console-screenshots");
const RECOVER_ROUTE = "POST /api/v2/admin/operator/restate/recover-stuck-workflow";

describe.skipIf(!chromiumPath)("the operator console in a browser", () => {
  const stack = inject("stack");
  const ingress = clients.connect({ url: stack.restateIngressUrl });
  const invocations = createInvocationTools(stack);
  let proxy: RpcProxy;
  let h: TransactionHarness;
  let dapi: DapiHarness;
  let server: RunningHttpServer;
  let browser: Browser;
  let consoleUrl: string;

  beforeAll(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    // One worker runs the canary drills and the transactions; its chain goes through a proxy so a
    // transaction can be dead-lettered by taking the RPC down.
    proxy = await startRpcProxy(stack.chainRpcUrl);
    h = await startTransactionHarness({ senders: 1, name: "console-worker", env: { CHAIN_RPC_URL: proxy.url, TX_PREBROADCAST_RETRY_BUDGET_MS: "2000" } });
    dapi = await startDapiHarness(stack.restateNodeUrl ? { restate: { nodeUrls: [stack.restateNodeUrl] } } : undefined);
    server = await serveDapi(dapi.app, { port: 0, host: "127.0.0.1", logger: createLogger({ service: "ddwf-dapi", sink: () => {} }) });
    consoleUrl = `http://127.0.0.1:${server.port}/console`;
    browser = await launchChromium(chromiumPath!);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await dapi?.close();
    await h?.stop();
    await proxy?.close();
  });

  /** A fresh tab signed in with `key`, showing the doctor (or its refusal). */
  const signIn = async (key: string): Promise<Page> => {
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    await page.goto(consoleUrl);
    await page.getByLabel("API key (kept in this tab only)").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("actor").waitFor();
    return page;
  };
  const screenshot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const open = async (page: Page, hash: string) => {
    // The function runs in the page, where `location` is the tab's.
    await page.evaluate((target) => ((globalThis as unknown as { location: { hash: string } }).location.hash = target), hash);
  };

  const failedCanary = async () => {
    const key = `console-${crypto.randomUUID()}`;
    const canary = ingress.workflowClient<EngineCanaryApi>({ name: "EngineCanary" }, key);
    await canary.workflowSubmit({ steps: 2, failAtStep: 1 });
    await expect(canary.workflowAttach()).rejects.toThrow(/canary failed at step 1/);
    return key;
  };

  it("signs in with an operator key kept in the tab's sessionStorage, never in a URL", async () => {
    const page = await (await browser.newContext()).newPage();
    const requests: { url: string; apiKey: string | undefined }[] = [];
    page.on("request", (request) => requests.push({ url: request.url(), apiKey: request.headers()["x-api-key"] }));
    await page.goto(consoleUrl);
    await page.getByLabel("API key (kept in this tab only)").fill(dapi.keys.operator.key);
    await page.getByRole("button", { name: "Sign in" }).click();

    expect(await page.getByTestId("actor").textContent()).toBe(dapi.keys.operator.actorId);
    expect(await page.getByTestId("role").textContent()).toBe("operator");
    expect(await page.evaluate(() => sessionStorage.getItem("ddwf.console.apiKey"))).toBe(dapi.keys.operator.key);
    await page.locator("[data-component=ingress]").waitFor();
    const apiCalls = requests.filter((request) => request.url.includes("/api/v2/admin/"));
    expect(apiCalls.length).toBeGreaterThanOrEqual(2);
    for (const call of apiCalls) expect(call.apiKey).toBe(dapi.keys.operator.key);
    for (const request of requests) expect(request.url).not.toContain(dapi.keys.operator.key);
    expect(page.url()).not.toContain(dapi.keys.operator.key);
  });

  it("refuses an unknown key at sign-in and keeps nothing of it", async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(consoleUrl);
    await page.getByLabel("API key (kept in this tab only)").fill("not-a-key-of-this-dapi-000000");
    await page.getByRole("button", { name: "Sign in" }).click();

    await page.getByText("The DAPI does not know this key.").waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("ddwf.console.apiKey"))).toBeNull();
    expect(await page.getByTestId("actor").count()).toBe(0);
  });

  it("shows the doctor's component states and the recent failures", async () => {
    const key = await failedCanary();
    const page = await signIn(dapi.keys.operator.key);

    const failure = page.getByRole("table", { name: "recent failures" }).getByRole("row").filter({ hasText: key });
    await failure.waitFor();
    for (const component of ["ingress", "admin", "deployments", "services", "invocations"]) {
      expect(await page.locator(`[data-component=${component}]`).textContent()).toBe("ok");
    }
    expect(await failure.textContent()).toContain("canary failed at step 1 as requested");
    await screenshot(page, "doctor");
  });

  it("recovers a failed canary from the doctor through a confirmation, and its audit row carries the reason", async () => {
    const key = await failedCanary();
    const page = await signIn(dapi.keys.operator.key);
    const failure = page.getByRole("table", { name: "recent failures" }).getByRole("row").filter({ hasText: key });

    await failure.getByRole("link", { name: "Open workflow" }).click();
    const invocation = page.locator("section[data-invocation]");
    await invocation.waitFor();
    expect(await invocation.textContent()).toContain("canary failed at step 1");
    expect(await page.getByRole("table", { name: "journal" }).textContent()).toContain("record-step-1");
    await screenshot(page, "workflow");

    await page.getByRole("button", { name: "Recover…" }).click();
    const dialog = page.getByRole("dialog");
    const preview = dialog.getByTestId("request-preview");
    expect(await preview.textContent()).toContain("POST /api/v2/admin/operator/restate/recover-stuck-workflow");
    expect(JSON.parse((await preview.textContent())!.split("\n\n")[1]!)).toEqual({ serviceName: "EngineCanary", serviceKey: key });
    const send = dialog.getByRole("button", { name: "Recover workflow" });
    expect(await send.isDisabled()).toBe(true);
    const reason = `console drill ${key}: canary failed on purpose`;
    await dialog.getByLabel(/^Reason/).fill(reason);
    expect(await preview.textContent()).toContain(`X-Operator-Reason: ${reason}`);
    await screenshot(page, "recover-confirmation");
    await send.click();

    await page.locator(".notice.success").waitFor();
    expect(await invocations.invocationsOf("EngineCanary", key)).toEqual([]);

    await open(page, "#/audit");
    await page.getByLabel("route (exact)").fill(RECOVER_ROUTE);
    await page.getByLabel("actor").fill(dapi.keys.operator.actorId);
    await page.getByRole("button", { name: "Filter" }).click();
    const row = page.getByRole("table", { name: "audit rows" }).getByRole("row").filter({ hasText: key });
    await row.waitFor();
    expect(await row.textContent()).toContain(reason);
    expect(await row.textContent()).toContain("success");
    await screenshot(page, "audit");
  });

  it("replays a dead-lettered transaction from the dead-letter view", async () => {
    proxy.setMode("down");
    const transactionId = await h.submit(h.senders[0]!.address, h.senders[0]!.address, { value: "1" });
    expect(await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 })).toMatchObject({ phase: "dead-letter" });
    await waitFor("the dead-lettered run to end", async () =>
      (await invocations.invocationsOf(transactionExecutionWorkflow.name, transactionId, "run")).every((run) => run.status === "completed"),
    );
    proxy.setMode("up");
    const page = await signIn(dapi.keys.operator.key);

    await open(page, "#/dead-letters");
    const row = page.getByRole("table", { name: "dead letters" }).getByRole("row").filter({ hasText: transactionId });
    await row.waitFor();
    await screenshot(page, "dead-letters");
    await row.getByRole("button", { name: "Replay…" }).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.getByTestId("request-preview").textContent()).toMatch(/^POST \/api\/v2\/admin\/operator\/dead-letters\/[^/]+\/replay$/m);
    await dialog.getByLabel(/^Reason/).fill("RPC is back; replaying");
    await dialog.getByRole("button", { name: "Replay" }).click();

    await page.locator(".notice.success").waitFor();
    expect(await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 })).toMatchObject({ phase: "completed" });
    const [letter] = await dapi.db.select().from(deadLetters).where(eq(deadLetters.referenceId, transactionId));
    expect(await getDeadLetter(dapi.db, letter!.id)).toMatchObject({ status: "replayed", replayCount: 1 });
  });

  it("shows a transaction's phase history, hashes and nonce by id", async () => {
    const transactionId = await h.submit(h.senders[0]!.address, h.senders[0]!.address, { value: "2" });
    expect(await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 })).toMatchObject({ phase: "completed" });
    const stored = (await getTransaction(h.db, transactionId))!;
    const page = await signIn(dapi.keys.operator.key);

    await open(page, "#/transactions");
    await page.getByLabel("transaction id").fill(transactionId);
    await page.getByRole("button", { name: "Open" }).click();
    const history = page.getByRole("table", { name: "phase history" });
    await history.waitFor();

    const phases = await history.locator("tbody tr td:nth-child(2)").allTextContents();
    expect(phases).toEqual(["submitting", "confirming", "completed"]);
    const record = await page.locator("dl.record").textContent();
    expect(record).toContain(stored.txHash!);
    expect(record).toContain(`nonce${stored.nonce}`);
    expect(await page.getByRole("table", { name: "signatures" }).textContent()).toContain(stored.txHash!);
    // A completed transaction cannot be cancelled: the console offers no cancel for it.
    expect(await page.locator("[data-write]").count()).toBe(0);
    await screenshot(page, "transaction");
  });

  it("shows an engine error message holding markup as text and runs none of it", async () => {
    const id = `dl_console_${crypto.randomUUID()}`;
    const hostile = `<script>window.__consoleInjected = "script"</script><img src=x onerror="window.__consoleInjected = 'img'"><b>bold</b>`;
    await insertDeadLetter(dapi.db, { id, kind: "identity-recovery", referenceId: "invitation_01CONSOLE", causeCode: "X", causeMessage: hostile, payload: { note: hostile } });
    const page = await signIn(dapi.keys.operator.key);

    await open(page, "#/dead-letters");
    const row = page.getByRole("table", { name: "dead letters" }).getByRole("row").filter({ hasText: id });
    await row.waitFor();

    expect(await row.locator("td.message").textContent()).toBe(hostile);
    expect(await row.locator("script, img, b").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { __consoleInjected?: string }).__consoleInjected)).toBeUndefined();
    await screenshot(page, "markup-as-text");
  });

  it("runs under its Content-Security-Policy in the browser: inline script is refused, HTML sinks refuse strings", async () => {
    const page = await signIn(dapi.keys.operator.key);

    const inline = await page.addScriptTag({ content: "globalThis.__consoleInline = true" }).then(
      () => "added",
      () => "refused",
    );
    const innerHtml = await page.evaluate(() => {
      try {
        (globalThis as unknown as { document: { createElement(tag: string): { innerHTML: string } } }).document.createElement("div").innerHTML = "<b>x</b>";
        return "assigned";
      } catch (error) {
        return (error as Error).name;
      }
    });

    expect(await page.evaluate(() => (globalThis as unknown as { __consoleInline?: boolean }).__consoleInline)).toBeUndefined();
    expect(inline).toBe("refused");
    expect(innerHtml).toBe("TypeError");
  });

  it("gives a viewer key the read views and no write button", async () => {
    const key = await failedCanary();
    const letterId = `dl_console_${crypto.randomUUID()}`;
    await insertDeadLetter(dapi.db, { id: letterId, kind: "transaction", referenceId: `tx_${crypto.randomUUID()}`, causeCode: "X", causeMessage: "x", payload: {} });
    /** Write buttons on the failed workflow's view and on the dead-letter view, once each has loaded. */
    const writeButtons = async (page: Page) => {
      await open(page, `#/workflow/EngineCanary/${key}`);
      await page.locator("section[data-invocation]").waitFor();
      const onWorkflow = await page.locator("[data-write]").count();
      await open(page, "#/dead-letters");
      await page.getByRole("table", { name: "dead letters" }).getByRole("row").filter({ hasText: letterId }).waitFor();
      return [onWorkflow, await page.locator("[data-write]").count()];
    };

    const operator = await signIn(dapi.keys.operator.key);
    expect((await writeButtons(operator)).every((count) => count > 0)).toBe(true);

    const viewer = await signIn(dapi.keys.viewer.key);
    expect(await viewer.getByTestId("role").textContent()).toBe("viewer");
    expect(await writeButtons(viewer)).toEqual([0, 0]);
    await screenshot(viewer, "viewer-dead-letters");
    await open(viewer, "#/doctor");
    await viewer.getByTestId("not-allowed").waitFor();
    await open(viewer, "#/audit");
    await viewer.getByTestId("not-allowed").waitFor();
    expect(await viewer.locator("[data-write]").count()).toBe(0);
  });

  it("shows pending approvals, or says plainly that this worker has none to show", async () => {
    const direct = await fetch(`http://127.0.0.1:${server.port}/api/v2/admin/operator/approvals?status=pending`, { headers: { "x-api-key": dapi.keys.operator.key } });
    const page = await signIn(dapi.keys.operator.key);

    await open(page, "#/approvals");
    if (direct.status === 404) {
      const unavailable = page.getByTestId("approvals-unavailable");
      await unavailable.waitFor();
      expect(await unavailable.textContent()).toContain("not available on this worker");
    } else {
      expect(direct.status).toBe(200);
      const { items } = (await direct.json()) as { items: unknown[] };
      if (items.length === 0) await page.getByText("No approval is pending.").waitFor();
      else await page.getByRole("table", { name: "pending approvals" }).waitFor();
    }
    await screenshot(page, "approvals");
  });
});
