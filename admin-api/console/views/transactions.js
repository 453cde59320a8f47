// @ts-check
/** One transaction by id: its record, phase history, signed hashes and nonce, and cancellation. */
import { api, failurePanel, OPERATOR } from "../api.js";
import { writeButton } from "../confirm.js";
import { badge, h, link, messageCell, monoCell, record, table, text, transactionHash, workflowHash } from "../dom.js";

/** @param {string[]} parts @param {HTMLElement} view @param {() => void} refresh */
export async function viewTransaction(parts, view, refresh) {
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
  const cancel = final
    ? null
    : writeButton({
        operationId: "cancelTransaction",
        name: "cancel",
        label: "Cancel…",
        write: {
          title: `Cancel transaction ${tx.id}`,
          method: "POST",
          path: `${OPERATOR}/transactions/${encodeURIComponent(tx.id)}/cancel`,
          body: (reason) => (reason ? { reason } : {}),
          consequence:
            "Before its nonce is taken nothing reaches the chain. After, a zero-value self-transfer races it on the same nonce: the record ends completed or failed/CANCELLED.",
          confirmLabel: "Cancel transaction",
        },
        success: `Cancellation of ${tx.id} requested.`,
        after: refresh,
      });
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
