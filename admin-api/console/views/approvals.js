// @ts-check
/**
 * Pending approvals. The approvals route comes with the custody signer routes; on a DAPI without it
 * (404) the view says so plainly instead of showing an error. Items are shown field by field, as text.
 */
import { api, failurePanel, IDENTIFIER, notAllowed, OPERATOR } from "../api.js";
import { h, link, messageCell, table, text, transactionHash } from "../dom.js";

/** @param {string[]} _parts @param {HTMLElement} view */
export async function viewApprovals(_parts, view) {
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
