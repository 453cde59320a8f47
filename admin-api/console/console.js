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

import { API, api, currentSession, describeFailure, KEY_STORAGE, setSession, whenKeyRefused } from "./api.js";
import { $, h, notice } from "./dom.js";
import { viewApprovals } from "./views/approvals.js";
import { viewAudit } from "./views/audit.js";
import { viewDeadLetters } from "./views/dead-letters.js";
import { viewDoctor } from "./views/doctor.js";
import { viewTransaction } from "./views/transactions.js";
import { viewWorkflow } from "./views/workflow.js";

/** @type {Record<string, (parts: string[], view: HTMLElement, refresh: () => void) => Promise<void>>} */
const VIEW_RENDERERS = {
  doctor: viewDoctor,
  workflow: viewWorkflow,
  "dead-letters": viewDeadLetters,
  transactions: viewTransaction,
  approvals: viewApprovals,
  audit: viewAudit,
};

// ---------------------------------------------------------------------------------------------
// Signing in and out.

function signOut(/** @type {string} */ message) {
  sessionStorage.removeItem(KEY_STORAGE);
  setSession(null);
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
    setSession(null);
    return false;
  }
  setSession(/** @type {import("./api.js").Whoami} */ (answer.body));
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
  const session = currentSession();
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
// Routing.

function route() {
  if (!currentSession()) return;
  const hash = location.hash || "#/doctor";
  const [name = "", ...parts] = hash.replace(/^#\/?/, "").split("/");
  markCurrent(`#/${name}`);
  const render = VIEW_RENDERERS[name];
  if (!render) {
    location.hash = "#/doctor";
    return;
  }
  // Each rendering gets its own container: a slow answer for a view the operator already left
  // lands in a detached element instead of replacing the view now shown.
  const container = h("div", { "data-view": name });
  $("view").replaceChildren(container);
  render(parts, container, route).catch((/** @type {unknown} */ error) => {
    container.append(h("div", { class: "panel error", role: "alert" }, `The console failed to show this view: ${error instanceof Error ? error.message : String(error)}`));
  });
}

async function start() {
  whenKeyRefused(signOut);
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
