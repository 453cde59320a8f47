// @ts-check
/** One workflow instance: its state, its invocations and their journals, and recovery. */
import { api, failurePanel, IDENTIFIER, OPERATOR } from "../api.js";
import { recoverButton } from "../confirm.js";
import { badge, h, link, monoCell, record, table, text, transactionHash, workflowHash } from "../dom.js";

/** @param {string[]} parts @param {HTMLElement} view @param {() => void} refresh */
export async function viewWorkflow(parts, view, refresh) {
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
    h("div", { class: "actions" }, recoverButton(service, key, refresh), service === "TransactionExecutionWorkflow" ? link(transactionHash(key), "Open transaction record") : null),
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
