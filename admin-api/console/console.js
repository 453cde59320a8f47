// @ts-check
/**
 * The ddwf operator console: a page over the DAPI's public routes, nothing else.
 *
 * - The operator's API key lives in this tab's sessionStorage and travels only in the X-Api-Key
 *   header; it is never put in a URL (the page has no form submission, and the CSP forbids one).
 * - Every value that comes from the engine is put on the page as text (`append`, `textContent`),
 *   never parsed as HTML; the CSP's Trusted Types rule makes an HTML sink throw if one slips in.
 * - Write buttons appear only for operations the DAPI's `whoami` answer lists for the key; each
 *   write goes through a confirmation that shows the exact request and asks for a reason, sent as
 *   X-Operator-Reason so it lands in the audit row.
 *
 * Views (hash routes, which hold no secret): #/doctor, #/workflow/<service>/<key>, #/dead-letters,
 * #/transactions/<id>, #/approvals, #/audit.
 */

const KEY_STORAGE = "ddwf.console.apiKey";
const API = "/api/v2/admin";
const OPERATOR = `${API}/operator`;
const IDENTIFIER = /^[A-Za-z0-9_-]+$/;
/** X-Operator-Reason is an HTTP header: printable Latin-1 only (no emoji, no €), at most 500 characters. */
const REASON_PATTERN = /^[\x20-\x7e\u00a0-\u00ff]+$/;
const REASON_MAX = 500;

/**
 * @typedef {{ actorId: string, role: string, permissions: string[], operations: string[] }} Whoami
 * @typedef {{ code: string, message: string, data?: unknown, requestId?: string }} Envelope
 * @typedef {{ ok: boolean, status: number, body: any, requestId: string | null }} Answer
 * @typedef {string | number | Node | null | undefined | false} Child
 */

/** @type {Whoami | null} */
let session = null;

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

// ---------------------------------------------------------------------------------------------
// DOM helpers: the only way this script makes elements. Strings always become text nodes.

/**
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    else if (name === "class") element.className = String(value);
    else if (name === "href" && !String(value).startsWith("#")) throw new Error("the console links only to its own views");
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "number" ? String(child) : child);
  }
  return element;
}

/** Any engine value as display text: null as a dash, objects as indented JSON. */
function text(/** @type {unknown} */ value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "object") return JSON.stringify(value, null, 2);
  return String(value);
}

function badge(/** @type {unknown} */ status) {
  const label = text(status);
  return h("span", { class: `badge status-${label.replace(/[^a-z-]/g, "")}` }, label);
}

/**
 * A table; each cell is a string (shown as text) or a node.
 * @param {string[]} headers
 * @param {Child[][]} rows
 * @param {{ empty?: string, label?: string }} [options]
 */
function table(headers, rows, options = {}) {
  if (rows.length === 0) return h("p", { class: "muted" }, options.empty ?? "Nothing to show.");
  return h(
    "table",
    { "aria-label": options.label },
    h("thead", {}, h("tr", {}, headers.map((header) => h("th", { scope: "col" }, header)))),
    h(
      "tbody",
      {},
      rows.map((cells) => h("tr", {}, cells.map((cell) => (cell instanceof HTMLElement && cell.tagName === "TD" ? cell : h("td", {}, cell))))),
    ),
  );
}

/** A cell holding long engine text (error messages), kept as text, wrapped. */
const messageCell = (/** @type {unknown} */ value) => h("td", { class: "message" }, text(value));
const monoCell = (/** @type {unknown} */ value) => h("td", { class: "mono" }, text(value));
const jsonDetails = (/** @type {string} */ summary, /** @type {unknown} */ value) => h("details", {}, h("summary", {}, summary), h("pre", {}, text(value)));

/** @param {[string, unknown][]} pairs */
function record(pairs) {
  return h("dl", { class: "record" }, pairs.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value instanceof Node ? value : text(value))]));
}

function link(/** @type {string} */ hash, /** @type {string} */ label) {
  return h("a", { href: hash }, label);
}

const workflowHash = (/** @type {string} */ service, /** @type {string} */ key) => `#/workflow/${encodeURIComponent(service)}/${encodeURIComponent(key)}`;
const transactionHash = (/** @type {string} */ id) => `#/transactions/${encodeURIComponent(id)}`;

function notice(/** @type {string} */ message, /** @type {"info" | "success" | "error"} */ kind = "info") {
  const element = $("notice");
  element.className = `notice ${kind}`;
  element.textContent = message;
}

/** @param {Answer} answer */
function describeFailure(answer) {
  const body = /** @type {Envelope | null} */ (answer.body);
  if (answer.status === 0) return "The DAPI did not answer (network error).";
  if (body && typeof body.code === "string") return `${body.code} (${answer.status}): ${body.message}${body.requestId ? `\nrequest ${body.requestId}` : ""}`;
  return `HTTP ${answer.status}`;
}

const failurePanel = (/** @type {Answer} */ answer) => h("div", { class: "panel error", role: "alert" }, describeFailure(answer));

/** @param {string} operationId */
const can = (operationId) => session !== null && session.operations.includes(operationId);

function notAllowed(/** @type {string} */ what) {
  const who = session ? `${session.actorId} (role ${session.role})` : "this key";
  return h("div", { class: "panel", "data-testid": "not-allowed" }, `${what} is an operator route: the key of ${who} may not call it.`);
}

// ---------------------------------------------------------------------------------------------
// The DAPI client: the key from sessionStorage in a header, JSON in and out.

/**
 * @param {"GET" | "POST"} method
 * @param {string} path
 * @param {{ body?: unknown, reason?: string }} [options]
 * @returns {Promise<Answer>}
 */
async function api(method, path, options = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (key) headers["X-Api-Key"] = key;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.reason) headers["X-Operator-Reason"] = options.reason;
  /** @type {Response} */
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
      referrerPolicy: "no-referrer",
    });
  } catch {
    return { ok: false, status: 0, body: null, requestId: null };
  }
  /** @type {unknown} */
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const answer = { ok: response.ok, status: response.status, body, requestId: response.headers.get("x-request-id") };
  if (response.status === 401 && session !== null) {
    signOut(`The DAPI no longer accepts this key: ${describeFailure(answer)}`);
  }
  return answer;
}

// ---------------------------------------------------------------------------------------------
// Signing in and out.

function signOut(/** @type {string} */ message) {
  sessionStorage.removeItem(KEY_STORAGE);
  session = null;
  renderChrome();
  renderLogin(message);
}

function renderLogin(/** @type {string} */ message = "") {
  const input = /** @type {HTMLInputElement} */ (
    h("input", { id: "api-key", type: "password", autocomplete: "off", spellcheck: "false", required: true, class: "wide" })
  );
  const error = h("p", { class: "field-error", role: "alert" }, message);
  const form = h(
    "form",
    { class: "login", "aria-label": "Sign in" },
    h("label", { for: "api-key" }, "API key (kept in this tab only)", input),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      error.textContent = "Enter an API key.";
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, key);
    input.value = "";
    const ok = await loadSession();
    if (!ok) {
      sessionStorage.removeItem(KEY_STORAGE);
      error.textContent = lastSignInProblem;
      return;
    }
    notice("");
    if (!location.hash || location.hash === "#") location.hash = "#/doctor";
    else route();
  });
  $("view").replaceChildren(h("h2", {}, "Sign in"), h("p", { class: "muted" }, "Paste an operator or viewer key. It stays in this browser tab (sessionStorage) and is sent only in the X-Api-Key header."), form, error);
  input.focus();
}

let lastSignInProblem = "";

/** Asks the DAPI who the stored key belongs to; false when it refuses the key. */
async function loadSession() {
  const answer = await api("GET", `${API}/whoami`);
  if (!answer.ok) {
    lastSignInProblem = answer.status === 401 ? "The DAPI does not know this key." : describeFailure(answer);
    session = null;
    return false;
  }
  session = /** @type {Whoami} */ (answer.body);
  renderChrome();
  return true;
}

const VIEWS = [
  ["#/doctor", "Doctor"],
  ["#/workflow", "Workflow"],
  ["#/dead-letters", "Dead letters"],
  ["#/transactions", "Transactions"],
  ["#/approvals", "Approvals"],
  ["#/audit", "Audit log"],
];

function renderChrome() {
  const nav = $("nav");
  const caller = $("caller");
  if (!session) {
    nav.hidden = true;
    nav.replaceChildren();
    caller.replaceChildren();
    return;
  }
  const readOnly = !session.permissions.includes("system:operate");
  caller.replaceChildren(
    h("span", { "data-testid": "actor" }, session.actorId),
    h("span", { class: "badge", "data-testid": "role" }, session.role),
    readOnly ? h("span", { class: "badge" }, "read-only") : "",
    h("button", { type: "button", onclick: () => signOut("Signed out.") }, "Sign out"),
  );
  nav.hidden = false;
  nav.replaceChildren(...VIEWS.map(([hash, label]) => h("a", { href: /** @type {string} */ (hash) }, /** @type {string} */ (label))));
}

function markCurrent(/** @type {string} */ hash) {
  for (const anchor of $("nav").querySelectorAll("a")) {
    if (hash.startsWith(anchor.getAttribute("href") ?? "")) anchor.setAttribute("aria-current", "page");
    else anchor.removeAttribute("aria-current");
  }
}

// ---------------------------------------------------------------------------------------------
// Confirmation of a write: the exact request, a reason, then the call.

/**
 * @param {{ title: string, method: "POST", path: string, body: (reason: string) => unknown, consequence: string, confirmLabel: string }} write
 * @returns {Promise<Answer | null>} null when the operator cancelled
 */
function confirmWrite(write) {
  return new Promise((resolve) => {
    const reason = /** @type {HTMLInputElement} */ (h("input", { id: "write-reason", type: "text", maxlength: REASON_MAX, autocomplete: "off", class: "wide" }));
    const preview = h("pre", { "data-testid": "request-preview" });
    const problem = h("p", { class: "field-error", role: "alert" });
    const send = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "write primary", disabled: true }, write.confirmLabel));
    const cancel = h("button", { type: "button" }, "Cancel");
    const dialog = /** @type {HTMLDialogElement} */ (
      h(
        "dialog",
        { "aria-label": write.title },
        h("h2", {}, write.title),
        h("p", {}, write.consequence),
        h("p", { class: "muted" }, "This is the exact request the console will send:"),
        preview,
        h("label", { for: "write-reason" }, "Reason (required; stored in the audit row as X-Operator-Reason)", reason),
        problem,
        h("div", { class: "actions" }, cancel, send),
      )
    );
    const update = () => {
      const value = reason.value.trim();
      const body = write.body(value);
      preview.textContent = [
        `${write.method} ${write.path}`,
        "X-Api-Key: (the key of this tab)",
        `X-Operator-Reason: ${value}`,
        "Content-Type: application/json",
        "",
        JSON.stringify(body, null, 2),
      ].join("\n");
      let message = "";
      if (value === "") message = "reason: give one; it is what the next operator reads in the audit log.";
      else if (!REASON_PATTERN.test(value)) message = "reason: use printable Latin-1 characters only (it travels in an HTTP header).";
      problem.textContent = value === "" ? "" : message;
      send.disabled = message !== "";
    };
    let settled = false;
    const finish = (/** @type {Answer | null} */ answer) => {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    reason.addEventListener("input", update);
    cancel.addEventListener("click", () => finish(null));
    dialog.addEventListener("close", () => finish(null));
    send.addEventListener("click", async () => {
      const value = reason.value.trim();
      send.disabled = true;
      const answer = await api(write.method, write.path, { body: write.body(value), reason: value });
      finish(answer);
    });
    update();
    document.body.append(dialog);
    dialog.showModal();
    reason.focus();
  });
}

/** Shows a write's outcome in the notice area; true when it succeeded. */
function reportWrite(/** @type {Answer | null} */ answer, /** @type {string} */ success) {
  if (answer === null) return false;
  if (answer.ok) notice(`${success}\nrequest ${answer.requestId ?? "?"}`, "success");
  else notice(describeFailure(answer), "error");
  return answer.ok;
}

/** @param {string} serviceName @param {string} serviceKey @param {() => void} after */
function recoverButton(serviceName, serviceKey, after) {
  if (!can("restateRecoverStuckWorkflow")) return null;
  return h(
    "button",
    {
      type: "button",
      class: "write",
      "data-write": "recover",
      onclick: async () => {
        const answer = await confirmWrite({
          title: `Recover ${serviceName}/${serviceKey}`,
          method: "POST",
          path: `${OPERATOR}/restate/recover-stuck-workflow`,
          body: () => ({ serviceName, serviceKey }),
          consequence:
            "Kills and purges the key's terminal-failed invocations and clears its state, so the next submission starts from its first step. Refused while an invocation is active or after the run succeeded.",
          confirmLabel: "Recover workflow",
        });
        if (reportWrite(answer, `Recovered ${serviceName}/${serviceKey}.`)) after();
      },
    },
    "Recover…",
  );
}

// ---------------------------------------------------------------------------------------------
// Views.

/** @param {string[]} _parts @param {HTMLElement} view */
async function viewDoctor(_parts, view) {
  if (!can("restateDoctor")) {
    view.replaceChildren(h("h2", {}, "Doctor"), notAllowed("The doctor"));
    return;
  }
  view.replaceChildren(h("h2", {}, "Doctor"), h("p", { class: "muted" }, "Probing the engine…"));
  const answer = await api("POST", `${OPERATOR}/restate/doctor`, { body: {} });
  const rerun = h("button", { type: "button", onclick: () => route() }, "Run doctor again");
  if (!answer.ok) {
    view.replaceChildren(h("h2", {}, "Doctor"), failurePanel(answer), rerun);
    return;
  }
  const report = answer.body;
  const nodes = report.nodes ?? { status: null, items: [], error: null, clusterName: null, metadataMembers: [] };
  const components = [
    ["ingress", report.ingress, report.ingress.latencyMs === null ? "—" : `${report.ingress.latencyMs} ms`],
    ["admin", report.admin, `version ${text(report.admin.version)}, ${text(report.admin.latencyMs)} ms`],
    ["deployments", report.deployments, `${report.deployments.items.length} registered`],
    ["services", report.services, `${report.services.items.length} registered`],
    ["invocations", report.invocations, Object.entries(report.invocations.byStatus).map(([status, count]) => `${status}: ${count}`).join(", ") || "none"],
    ["nodes", nodes, `${nodes.items.length} node(s), cluster ${text(nodes.clusterName)}`],
  ];
  const failures = report.invocations.recentFailures.map((/** @type {any} */ failure) => [
    monoCell(failure.failedAt),
    failure.serviceName,
    monoCell(failure.serviceKey),
    monoCell(failure.id),
    messageCell(failure.errorMessage),
    h(
      "td",
      {},
      h(
        "div",
        { class: "actions" },
        failure.serviceKey && IDENTIFIER.test(failure.serviceKey) ? link(workflowHash(failure.serviceName, failure.serviceKey), "Open workflow") : null,
        failure.serviceKey && IDENTIFIER.test(failure.serviceKey) ? recoverButton(failure.serviceName, failure.serviceKey, route) : null,
      ),
    ),
  ]);
  view.replaceChildren(
    h("h2", {}, "Doctor"),
    h("div", { class: "actions" }, rerun, h("span", { class: "muted" }, `request ${text(answer.requestId)}`)),
    h("h3", {}, "Components"),
    table(
      ["component", "state", "detail", "error"],
      components.map(([name, component, detail]) => [name, h("td", { "data-component": name }, badge(component.status)), detail, messageCell(component.error)]),
      { label: "components" },
    ),
    h("h3", {}, "Recent failures"),
    table(["failed at", "service", "key", "invocation", "error", ""], failures, { empty: "No failed, backing-off or paused invocation.", label: "recent failures" }),
    h("h3", {}, "Deployments"),
    table(["id", "service URL", "created"], report.deployments.items.map((/** @type {any} */ d) => [monoCell(d.id), monoCell(d.serviceUrl), monoCell(d.createdAt)]), { empty: "No deployment." }),
    h("h3", {}, "Services"),
    table(["name", "revision"], report.services.items.map((/** @type {any} */ s) => [s.name, text(s.revision)]), { empty: "No service." }),
    h("h3", {}, "Nodes"),
    table(
      ["node", "url", "state", "generation", "roles", "error"],
      nodes.items.map((/** @type {any} */ n) => [text(n.nodeId), monoCell(n.url), h("td", {}, badge(n.status)), text(n.generation), n.roles.join(", "), messageCell(n.error)]),
      { empty: "No node probed." },
    ),
  );
}

/** @param {string[]} parts @param {HTMLElement} view */
async function viewWorkflow(parts, view) {
  const [service = "", key = ""] = parts.map((part) => decodeURIComponent(part));
  const serviceInput = /** @type {HTMLInputElement} */ (h("input", { id: "workflow-service", value: service, placeholder: "EngineCanary", required: true }));
  const keyInput = /** @type {HTMLInputElement} */ (h("input", { id: "workflow-key", value: key, class: "wide", required: true }));
  const lookup = h(
    "form",
    { class: "lookup", "aria-label": "Open a workflow" },
    h("label", { for: "workflow-service" }, "service", serviceInput),
    h("label", { for: "workflow-key" }, "key", keyInput),
    h("button", { type: "submit", class: "primary" }, "Open"),
  );
  lookup.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = workflowHash(serviceInput.value.trim(), keyInput.value.trim());
  });
  view.replaceChildren(h("h2", {}, "Workflow"), lookup);
  if (!service || !key) return;
  if (!IDENTIFIER.test(service) || !IDENTIFIER.test(key)) {
    view.append(h("div", { class: "panel error", role: "alert" }, "service and key: letters, digits, _ and - only."));
    return;
  }
  const answer = await api("GET", `${OPERATOR}/workflows/${encodeURIComponent(service)}/${encodeURIComponent(key)}`);
  if (!answer.ok) {
    view.append(failurePanel(answer));
    return;
  }
  const instance = answer.body;
  view.append(
    h("h3", {}, `${service} / ${key}`),
    h("div", { class: "actions" }, recoverButton(service, key, route), service === "TransactionExecutionWorkflow" ? link(transactionHash(key), "Open transaction record") : null),
    h("h3", {}, "State"),
    table(["key", "value"], instance.state.map((/** @type {any} */ entry) => [monoCell(entry.key), h("td", {}, h("pre", {}, text(entry.value)))]), {
      empty: "No state stored for this key.",
      label: "state",
    }),
    h("h3", {}, "Invocations"),
    instance.invocations.length === 0
      ? h("p", { class: "muted" }, "Restate knows no invocation of this key (never run, or purged).")
      : h(
          "div",
          {},
          instance.invocations.map((/** @type {any} */ invocation) =>
            h(
              "section",
              { class: "panel", "data-invocation": invocation.id },
              record([
                ["invocation", invocation.id],
                ["handler", invocation.handler],
                ["status", badge(invocation.status)],
                ["result", invocation.completionResult],
                ["failure", invocation.failure],
                ["retries", invocation.retryCount],
                ["deployment", invocation.pinnedDeploymentId],
                ["created", invocation.createdAt],
                ["modified", invocation.modifiedAt],
              ]),
              h(
                "details",
                { open: true },
                h("summary", {}, `journal (${invocation.journal.length} entries)`),
                table(
                  ["#", "entry", "name", "appended"],
                  invocation.journal.map((/** @type {any} */ entry) => [String(entry.index), entry.entryType, text(entry.name), monoCell(entry.appendedAt)]),
                  { empty: "No journal entry.", label: "journal" },
                ),
              ),
            ),
          ),
        ),
  );
}

const deadLetterFilter = { kind: "", status: "open", limit: "100" };

/** @param {string[]} _parts @param {HTMLElement} view */
async function viewDeadLetters(_parts, view) {
  const kind = /** @type {HTMLSelectElement} */ (
    h("select", { id: "dl-kind" }, ["", "transaction", "webhook-delivery", "identity-recovery", "asset-issuance"].map((value) => h("option", { value }, value || "any")))
  );
  const status = /** @type {HTMLSelectElement} */ (h("select", { id: "dl-status" }, ["open", "replayed", "discarded", ""].map((value) => h("option", { value }, value || "any"))));
  kind.value = deadLetterFilter.kind;
  status.value = deadLetterFilter.status;
  const filters = h(
    "form",
    { class: "filters", "aria-label": "Dead letter filters" },
    h("label", { for: "dl-kind" }, "kind", kind),
    h("label", { for: "dl-status" }, "status", status),
    h("button", { type: "submit", class: "primary" }, "Show"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    deadLetterFilter.kind = kind.value;
    deadLetterFilter.status = status.value;
    route();
  });
  view.replaceChildren(h("h2", {}, "Dead letters"), filters);
  const query = new URLSearchParams({ limit: deadLetterFilter.limit });
  if (deadLetterFilter.kind) query.set("kind", deadLetterFilter.kind);
  if (deadLetterFilter.status) query.set("status", deadLetterFilter.status);
  const answer = await api("GET", `${OPERATOR}/dead-letters?${query}`);
  if (!answer.ok) {
    view.append(failurePanel(answer));
    return;
  }
  const rows = answer.body.items.map((/** @type {any} */ letter) => {
    const reference =
      letter.kind === "transaction" && IDENTIFIER.test(letter.referenceId)
        ? link(transactionHash(letter.referenceId), letter.referenceId)
        : letter.kind === "webhook-delivery" && IDENTIFIER.test(letter.referenceId)
          ? link(workflowHash("WebhookDeliveryWorkflow", letter.referenceId), letter.referenceId)
          : letter.referenceId;
    const replay =
      letter.status === "open" && can("replayDeadLetter")
        ? h(
            "button",
            {
              type: "button",
              class: "write",
              "data-write": "replay",
              onclick: async () => {
                const result = await confirmWrite({
                  title: `Replay dead letter ${letter.id}`,
                  method: "POST",
                  path: `${OPERATOR}/dead-letters/${encodeURIComponent(letter.id)}/replay`,
                  body: () => ({}),
                  consequence: `Recovers the ${letter.kind} workflow key ${letter.referenceId}, submits it again and marks the letter replayed.`,
                  confirmLabel: "Replay",
                });
                if (reportWrite(result, `Replayed ${letter.id}.`)) route();
              },
            },
            "Replay…",
          )
        : null;
    return [
      monoCell(letter.createdAt),
      monoCell(letter.id),
      letter.kind,
      h("td", { class: "mono" }, reference),
      monoCell(letter.causeCode),
      messageCell(letter.causeMessage),
      h("td", {}, badge(letter.status)),
      String(letter.replayCount),
      h("td", {}, jsonDetails("payload", letter.payload)),
      h("td", {}, replay),
    ];
  });
  view.append(
    table(["created", "id", "kind", "reference", "cause", "message", "status", "replays", "payload", ""], rows, {
      empty: "No dead letter matches.",
      label: "dead letters",
    }),
  );
}

/** @param {string[]} parts @param {HTMLElement} view */
async function viewTransaction(parts, view) {
  const id = decodeURIComponent(parts[0] ?? "");
  const input = /** @type {HTMLInputElement} */ (h("input", { id: "transaction-id", value: id, class: "wide", placeholder: "tx_…", required: true }));
  const lookup = h("form", { class: "lookup", "aria-label": "Open a transaction" }, h("label", { for: "transaction-id" }, "transaction id", input), h("button", { type: "submit", class: "primary" }, "Open"));
  lookup.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = transactionHash(input.value.trim());
  });
  view.replaceChildren(h("h2", {}, "Transactions"), lookup);
  if (!id) return;
  const answer = await api("GET", `${OPERATOR}/transactions/${encodeURIComponent(id)}`);
  if (!answer.ok) {
    view.append(failurePanel(answer));
    return;
  }
  const tx = answer.body;
  const final = tx.phase === "completed" || tx.phase === "failed";
  const cancel =
    !final && can("cancelTransaction")
      ? h(
          "button",
          {
            type: "button",
            class: "write",
            "data-write": "cancel",
            onclick: async () => {
              const result = await confirmWrite({
                title: `Cancel transaction ${tx.id}`,
                method: "POST",
                path: `${OPERATOR}/transactions/${encodeURIComponent(tx.id)}/cancel`,
                body: (reason) => (reason ? { reason } : {}),
                consequence:
                  "Before its nonce is taken nothing reaches the chain. After, a zero-value self-transfer races it on the same nonce: the record ends completed or failed/CANCELLED.",
                confirmLabel: "Cancel transaction",
              });
              if (reportWrite(result, `Cancellation of ${tx.id} requested.`)) route();
            },
          },
          "Cancel…",
        )
      : null;
  view.append(
    h("h3", {}, tx.id),
    h("div", { class: "actions" }, link(workflowHash("TransactionExecutionWorkflow", tx.id), "Open workflow"), cancel),
    record([
      ["phase", badge(tx.phase)],
      ["hash", tx.txHash],
      ["nonce", tx.nonce],
      ["block", tx.blockNumber === null ? null : `${tx.blockNumber} (${tx.blockHash})`],
      ["error", tx.errorCode === null ? null : `${tx.errorCode}: ${text(tx.errorMessage)}`],
      ["organization", tx.organizationId],
      ["chain", tx.chainId],
      ["signer", tx.signerAddress],
      ["target", tx.target],
      ["value (wei)", tx.value],
      ["executor", tx.executor],
      ["correlation id", tx.correlationId],
      ["cancel requested", tx.cancelRequestedAt === null ? null : `${tx.cancelRequestedAt}: ${text(tx.cancelReason)}`],
      ["created", tx.createdAt],
      ["phase changed", tx.phaseChangedAt],
    ]),
    h("h3", {}, "Phase history"),
    table(
      ["#", "phase", "at", "reason", "hash", "nonce", "error"],
      tx.transitions.map((/** @type {any} */ t) => [
        String(t.sequence),
        h("td", {}, badge(t.phase)),
        monoCell(t.at),
        text(t.reason),
        monoCell(t.txHash),
        text(t.nonce),
        messageCell(t.errorCode === null ? null : `${t.errorCode}: ${text(t.errorMessage)}`),
      ]),
      { empty: "No phase change recorded.", label: "phase history" },
    ),
    h("h3", {}, "Signatures"),
    table(
      ["kind", "nonce", "hash", "max fee", "priority fee", "refused", "signed"],
      tx.signatures.map((/** @type {any} */ s) => [s.kind, String(s.nonce), monoCell(s.hash), s.maxFeePerGas, s.maxPriorityFeePerGas, monoCell(s.refusedAt), monoCell(s.createdAt)]),
      { empty: "Nothing was signed.", label: "signatures" },
    ),
  );
}

/** @param {string[]} _parts @param {HTMLElement} view */
async function viewApprovals(_parts, view) {
  view.replaceChildren(h("h2", {}, "Pending approvals"));
  const answer = await api("GET", `${OPERATOR}/approvals?status=pending`);
  if (answer.status === 404) {
    view.append(
      h(
        "div",
        { class: "panel", "data-testid": "approvals-unavailable" },
        "Pending approvals are not available on this worker: its DAPI has no approvals route (GET /api/v2/admin/operator/approvals answered 404).",
      ),
    );
    return;
  }
  if (answer.status === 403) {
    view.append(notAllowed("Listing approvals"));
    return;
  }
  if (!answer.ok) {
    view.append(failurePanel(answer));
    return;
  }
  /** @type {Record<string, unknown>[]} */
  const items = Array.isArray(answer.body?.items) ? answer.body.items : [];
  const columns = [...new Set(items.flatMap((item) => Object.keys(item)))];
  view.append(
    table(
      columns,
      items.map((item) =>
        columns.map((column) => {
          const value = item[column];
          if (column === "transactionId" && typeof value === "string" && IDENTIFIER.test(value)) return h("td", { class: "mono" }, link(transactionHash(value), value));
          return typeof value === "object" && value !== null ? h("td", {}, h("pre", {}, text(value))) : messageCell(value);
        }),
      ),
      { empty: "No approval is pending.", label: "pending approvals" },
    ),
  );
}

const auditFilter = { route: "", actorId: "", outcome: "", from: "", to: "", limit: "50" };
/** Cursors of the pages before the current one (the first page has none). */
let auditCursors = /** @type {(string | undefined)[]} */ ([]);
/** @type {string | undefined} */
let auditCursor;

/** @param {string[]} _parts @param {HTMLElement} view */
async function viewAudit(_parts, view) {
  if (!can("listAuditEntries")) {
    view.replaceChildren(h("h2", {}, "Audit log"), notAllowed("The audit log"));
    return;
  }
  const field = (/** @type {keyof typeof auditFilter} */ name, /** @type {string} */ label, /** @type {Record<string, unknown>} */ props = {}) => {
    const input = /** @type {HTMLInputElement} */ (h("input", { id: `audit-${name}`, value: auditFilter[name], ...props }));
    return { input, element: h("label", { for: `audit-${name}` }, label, input) };
  };
  const routeFilter = field("route", "route (exact)", { class: "wide", placeholder: "POST /api/v2/admin/operator/restate/doctor" });
  const actor = field("actorId", "actor");
  const from = field("from", "from", { type: "datetime-local", step: 1 });
  const to = field("to", "to", { type: "datetime-local", step: 1 });
  const outcome = /** @type {HTMLSelectElement} */ (h("select", { id: "audit-outcome" }, ["", "success", "failure"].map((value) => h("option", { value }, value || "any"))));
  outcome.value = auditFilter.outcome;
  const limit = /** @type {HTMLSelectElement} */ (h("select", { id: "audit-limit" }, ["25", "50", "100", "200"].map((value) => h("option", { value }, value))));
  limit.value = auditFilter.limit;
  const filters = h(
    "form",
    { class: "filters", "aria-label": "Audit filters" },
    routeFilter.element,
    actor.element,
    h("label", { for: "audit-outcome" }, "outcome", outcome),
    from.element,
    to.element,
    h("label", { for: "audit-limit" }, "per page", limit),
    h("button", { type: "submit", class: "primary" }, "Filter"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(auditFilter, { route: routeFilter.input.value.trim(), actorId: actor.input.value.trim(), outcome: outcome.value, from: from.input.value, to: to.input.value, limit: limit.value });
    auditCursors = [];
    auditCursor = undefined;
    route();
  });
  view.replaceChildren(h("h2", {}, "Audit log"), filters);

  const query = new URLSearchParams({ limit: auditFilter.limit });
  if (auditFilter.route) query.set("route", auditFilter.route);
  if (auditFilter.actorId) query.set("actorId", auditFilter.actorId);
  if (auditFilter.outcome) query.set("outcome", auditFilter.outcome);
  // datetime-local is the browser's local time; the DAPI takes ISO 8601 with an offset.
  if (auditFilter.from) query.set("from", new Date(auditFilter.from).toISOString());
  if (auditFilter.to) query.set("to", new Date(auditFilter.to).toISOString());
  if (auditCursor) query.set("cursor", auditCursor);
  const answer = await api("GET", `${API}/audit-log?${query}`);
  if (!answer.ok) {
    view.append(failurePanel(answer));
    return;
  }
  const { items, nextCursor } = answer.body;
  const previous = h(
    "button",
    {
      type: "button",
      disabled: auditCursors.length === 0,
      onclick: () => {
        auditCursor = auditCursors.pop();
        route();
      },
    },
    "← Newer",
  );
  const next = h(
    "button",
    {
      type: "button",
      disabled: !nextCursor,
      onclick: () => {
        auditCursors.push(auditCursor);
        auditCursor = nextCursor;
        route();
      },
    },
    "Older →",
  );
  view.append(
    h("div", { class: "pager" }, previous, h("span", { class: "muted" }, `page ${auditCursors.length + 1}`), next),
    table(
      ["started", "actor", "role", "route", "reason", "outcome", "error", "request", "arguments"],
      items.map((/** @type {any} */ row) => [
        monoCell(row.startedAt),
        row.actorId,
        row.actorRole,
        monoCell(row.route),
        messageCell(row.reason),
        h("td", {}, row.outcome === null ? "running" : badge(row.outcome)),
        messageCell(row.errorCode === null ? null : `${row.errorCode}: ${text(row.errorMessage)}`),
        monoCell(row.requestId),
        h("td", {}, jsonDetails("arguments", row.arguments)),
      ]),
      { empty: "No audit row matches.", label: "audit rows" },
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Routing.

function route() {
  if (!session) return;
  const hash = location.hash || "#/doctor";
  const [name = "", ...parts] = hash.replace(/^#\/?/, "").split("/");
  markCurrent(`#/${name}`);
  const views = /** @type {Record<string, (parts: string[], view: HTMLElement) => Promise<void>>} */ ({
    doctor: viewDoctor,
    workflow: viewWorkflow,
    "dead-letters": viewDeadLetters,
    transactions: viewTransaction,
    approvals: viewApprovals,
    audit: viewAudit,
  });
  const render = views[name];
  if (!render) {
    location.hash = "#/doctor";
    return;
  }
  // Each rendering gets its own container: a slow answer for a view the operator already left
  // lands in a detached element instead of replacing the view now shown.
  const container = h("div", { "data-view": name });
  $("view").replaceChildren(container);
  render(parts, container).catch((/** @type {unknown} */ error) => {
    container.append(h("div", { class: "panel error", role: "alert" }, `The console failed to show this view: ${error instanceof Error ? error.message : String(error)}`));
  });
}

async function start() {
  window.addEventListener("hashchange", () => {
    notice("");
    route();
  });
  if (sessionStorage.getItem(KEY_STORAGE) && (await loadSession())) {
    route();
    return;
  }
  sessionStorage.removeItem(KEY_STORAGE);
  renderLogin();
}

void start();
