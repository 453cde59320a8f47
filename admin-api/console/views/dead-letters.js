// @ts-check
/** Dead letters, filtered by kind and status, with replay of the open ones. */
import { api, failurePanel, IDENTIFIER, OPERATOR } from "../api.js";
import { writeButton } from "../confirm.js";
import { badge, h, jsonDetails, link, messageCell, monoCell, table, transactionHash, workflowHash } from "../dom.js";

/** Kinds the DAPI replays (DEAD_LETTER_KIND_UNSUPPORTED for the others, which an operator settles by hand). */
const REPLAYABLE_KINDS = ["transaction", "webhook-delivery"];

const deadLetterFilter = { kind: "", status: "open", limit: "100" };

/** @param {string[]} _parts @param {HTMLElement} view @param {() => void} refresh */
export async function viewDeadLetters(_parts, view, refresh) {
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
    refresh();
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
      h("td", {}, replayAction(letter, refresh)),
    ];
  });
  view.append(
    table(["created", "id", "kind", "reference", "cause", "message", "status", "replays", "payload", ""], rows, {
      empty: "No dead letter matches.",
      label: "dead letters",
    }),
  );
}

/** Replay for an open letter of a kind the DAPI replays; the others are settled by hand. @param {any} letter @param {() => void} refresh */
function replayAction(letter, refresh) {
  if (letter.status !== "open") return null;
  if (!REPLAYABLE_KINDS.includes(letter.kind)) return h("span", { class: "muted" }, "no replay: needs an operator's judgement");
  return writeButton({
    operationId: "replayDeadLetter",
    name: "replay",
    label: "Replay…",
    write: {
      title: `Replay dead letter ${letter.id}`,
      method: "POST",
      path: `${OPERATOR}/dead-letters/${encodeURIComponent(letter.id)}/replay`,
      body: () => ({}),
      consequence: `Recovers the ${letter.kind} workflow key ${letter.referenceId}, submits it again and marks the letter replayed.`,
      confirmLabel: "Replay",
    },
    success: `Replayed ${letter.id}.`,
    after: refresh,
  });
}
