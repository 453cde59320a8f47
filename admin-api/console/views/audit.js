// @ts-check
/** The operations audit log, newest first: filters by route, actor, outcome and time, and cursor paging. */
import { api, API, can, failurePanel, notAllowed } from "../api.js";
import { badge, h, jsonDetails, messageCell, monoCell, table, text } from "../dom.js";

const auditFilter = { route: "", actorId: "", outcome: "", from: "", to: "", limit: "50" };
/** Cursors of the pages before the current one (the first page has none). */
let auditCursors = /** @type {(string | undefined)[]} */ ([]);
/** @type {string | undefined} */
let auditCursor;

/** @param {string[]} _parts @param {HTMLElement} view @param {() => void} refresh */
export async function viewAudit(_parts, view, refresh) {
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
    refresh();
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
        refresh();
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
        refresh();
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
