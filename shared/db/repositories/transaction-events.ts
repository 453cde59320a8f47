/**
 * A transaction's phase changes together with the webhook deliveries of their events, in one
 * statement: the transitions (numbered after every earlier one of the transaction), the status row
 * as the last change leaves it, and one delivery per enabled subscription listening to each event
 * (`evt_<transaction>_<sequence>`, type `transaction.<phase>`). Keys already recorded (a retried
 * step) change nothing and answer the same sequences and deliveries.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import type { TransactionApproval } from "../../signers/approval.ts";
import type { TransactionPhase } from "../schema/index.ts";

export type TransactionEventChange = {
  /** Who writes the change at which step (`<run id>/<n>`); the same key twice is one change. */
  key: string;
  phase: TransactionPhase;
  txHash: string | null;
  nonce: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  blockNumber: number | null;
  blockHash: string | null;
  reason: string | null;
  /** The approval object the record keeps after the change; absent leaves the column as it is. */
  approval?: TransactionApproval | null;
  /** The event's `data`. */
  data: Record<string, unknown>;
};

export type RecordedTransactionEvents = {
  transitions: { key: string; sequence: number; recorded: boolean }[];
  /** Deliveries of the events, to start (derived ids: the same on a retry). */
  deliveryIds: string[];
};

export async function recordTransactionEvents(
  db: Database,
  parameters: { transactionId: string; changes: TransactionEventChange[]; at?: Date },
): Promise<RecordedTransactionEvents> {
  const { transactionId, changes } = parameters;
  const last = changes.at(-1);
  if (!last) return { transitions: [], deliveryIds: [] };
  const at = (parameters.at ?? new Date()).toISOString();
  const rows = changes.map(
    (change, index) => sql`(${index + 1}::int, ${change.key}::text, ${change.phase}::text, ${change.txHash}::text, ${change.nonce}::int,
      ${change.errorCode}::text, ${change.errorMessage}::text, ${change.reason}::text, ${JSON.stringify(change.data)}::jsonb)`,
  );
  const types = sql.raw(`array[${[...new Set(changes.map((change) => `transaction.${change.phase}`)), "*"].map((type) => `'${type.replaceAll("'", "''")}'`).join(",")}]`);
  const result = await db.execute<{ kind: "transition" | "delivery"; key: string | null; sequence: number | null; recorded: boolean | null; delivery_id: string | null }>(sql`
    with input as (
      select * from (values ${sql.join(rows, sql`, `)}) as v(ord, key, phase, tx_hash, nonce, error_code, error_message, reason, data)
    ), existing as (
      select t.key, t.sequence from transaction_transitions t where t.transaction_id = ${transactionId} and t.key in (select key from input)
    ), base as (
      select coalesce(max(t.sequence), 0) as sequence from transaction_transitions t where t.transaction_id = ${transactionId}
    ), numbered as (
      select i.*, coalesce(e.sequence, (select sequence from base) + i.ord) as sequence, e.key is not null as was_recorded
      from input i left join existing e on e.key = i.key
    ), inserted as (
      insert into transaction_transitions (transaction_id, key, sequence, phase, tx_hash, nonce, error_code, error_message, reason, at)
      select ${transactionId}, n.key, n.sequence, n.phase, n.tx_hash, n.nonce, n.error_code, n.error_message, n.reason, ${at}::timestamptz
      from numbered n where not exists (select 1 from existing)
      returning key
    ), updated as (
      update transactions set
        phase = ${last.phase}, tx_hash = ${last.txHash}, nonce = ${last.nonce}, error_code = ${last.errorCode},
        error_message = ${last.errorMessage}, block_number = ${last.blockNumber}, block_hash = ${last.blockHash},
        ${last.approval === undefined ? sql`` : sql`approval = ${last.approval === null ? null : JSON.stringify(last.approval)}::jsonb,`}
        updated_at = ${at}::timestamptz, phase_changed_at = ${at}::timestamptz
      where id = ${transactionId} and exists (select 1 from inserted)
      returning 1
    ), listeners as (
      select n.sequence, n.phase, n.data, s.id as subscription_id,
        'evt_' || ${transactionId} || '_' || n.sequence as event_id
      from numbered n join webhook_subscriptions s
        on s.enabled and s.event_types ?| ${types} and (s.event_types ? ('transaction.' || n.phase) or s.event_types ? '*')
    ), deliveries as (
      insert into webhook_deliveries (id, subscription_id, event_id, event_type, payload)
      select 'whd_' || l.event_id || '_' || l.subscription_id, l.subscription_id, l.event_id, 'transaction.' || l.phase,
        jsonb_build_object('id', l.event_id, 'type', 'transaction.' || l.phase, 'data', l.data, 'timestamp', ${at}::text)
      from listeners l
      on conflict do nothing
      returning 1
    )
    select 'transition' as kind, n.key, n.sequence, not n.was_recorded as recorded, null as delivery_id from numbered n
    union all
    select 'delivery', null, null, null, 'whd_' || l.event_id || '_' || l.subscription_id from listeners l
  `);
  const returned = [...result];
  const transitions = changes.map((change) => {
    const row = returned.find((candidate) => candidate.kind === "transition" && candidate.key === change.key);
    if (!row) throw new Error(`transition ${change.key} of transaction ${transactionId} was neither recorded nor found`);
    return { key: change.key, sequence: Number(row.sequence), recorded: Boolean(row.recorded) };
  });
  return { transitions, deliveryIds: returned.filter((row) => row.kind === "delivery").map((row) => row.delivery_id!) };
}
