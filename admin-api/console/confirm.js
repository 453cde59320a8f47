// @ts-check
/**
 * Writes: a button shown only when the key may call the operation, a confirmation that shows the
 * exact request and asks for a reason (sent as X-Operator-Reason, so it lands in the audit row),
 * then the call and its outcome.
 */
import { api, can, describeFailure, OPERATOR } from "./api.js";
import { h, notice } from "./dom.js";

/** @typedef {import("./api.js").Answer} Answer */

/** X-Operator-Reason is an HTTP header: printable Latin-1 only (no emoji, no €), at most 500 characters. */
const REASON_PATTERN = /^[\x20-\x7e\u00a0-\u00ff]+$/;
const REASON_MAX = 500;

/**
 * @typedef {{ title: string, method: "POST", path: string, body: (reason: string) => unknown, consequence: string, confirmLabel: string }} Write
 */

/**
 * @param {Write} write
 * @returns {Promise<Answer | null>} null when the operator cancelled
 */
export function confirmWrite(write) {
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

/**
 * A write button, or null when the DAPI's whoami answer does not list the operation for this key.
 * @param {{ operationId: string, name: string, label: string, write: Write, success: string, after: () => void }} parameters
 */
export function writeButton({ operationId, name, label, write, success, after }) {
  if (!can(operationId)) return null;
  return h(
    "button",
    {
      type: "button",
      class: "write",
      "data-write": name,
      onclick: async () => {
        if (reportWrite(await confirmWrite(write), success)) after();
      },
    },
    label,
  );
}

/** @param {string} serviceName @param {string} serviceKey @param {() => void} after */
export function recoverButton(serviceName, serviceKey, after) {
  return writeButton({
    operationId: "restateRecoverStuckWorkflow",
    name: "recover",
    label: "Recover…",
    write: {
      title: `Recover ${serviceName}/${serviceKey}`,
      method: "POST",
      path: `${OPERATOR}/restate/recover-stuck-workflow`,
      body: () => ({ serviceName, serviceKey }),
      consequence:
        "Kills and purges the key's terminal-failed invocations and clears its state, so the next submission starts from its first step. Refused while an invocation is active or after the run succeeded.",
      confirmLabel: "Recover workflow",
    },
    success: `Recovered ${serviceName}/${serviceKey}.`,
    after,
  });
}
