import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../shared/db/client.ts";
import { claimUserOperationNonce, insertTransaction, listHeldUserOperationNonces, recordTransactionPhase } from "../../shared/db/repositories/index.ts";
import { databaseTargets, type OpenedTarget } from "./database-targets.ts";

const unique = (prefix: string) => `${prefix}_${crypto.randomUUID()}`;
const randomAccount = () => `0x${Buffer.from(crypto.getRandomValues(new Uint8Array(20))).toString("hex")}`;

describe.each(databaseTargets(process.env))("smart-account nonce claims on $name", (target) => {
  let db: Database;
  let opened: OpenedTarget;
  beforeAll(async () => {
    opened = await target.open({ poolSize: 8 });
    db = opened.handle.db;
  });
  afterAll(async () => {
    await opened.close();
  });

  const smartWalletTransaction = async (account: string) => {
    const id = unique("tx");
    await insertTransaction(db, {
      id,
      organizationId: "org-1",
      chainId: 31337,
      signerAddress: account,
      target: "0x00000000000000000000000000000000000000bb",
      data: "0x",
      value: "0",
      gas: null,
      executor: { route: "smart-wallet", wallet: account, threshold: 2 },
      idempotencyKey: id,
      correlationId: null,
    });
    return id;
  };
  const claim = (transactionId: string, account: string, entryPointNonce = 5n) => claimUserOperationNonce(db, { transactionId, chainId: 31337, account, entryPointNonce });
  const end = (transactionId: string, phase: "failed" | "completed" | "dead-letter") => recordTransactionPhase(db, { transactionId, key: unique("end"), phase });

  it("gives transactions that claim at the same moment one nonce each, from the EntryPoint's upward", async () => {
    const account = randomAccount();
    const ids = await Promise.all(Array.from({ length: 8 }, () => smartWalletTransaction(account)));
    const nonces = await Promise.all(ids.map((id) => claim(id, account)));
    expect([...nonces].sort((a, b) => Number(a - b))).toEqual([5n, 6n, 7n, 8n, 9n, 10n, 11n, 12n]);
  });

  it("answers a transaction's own claim again when it claims twice (a retried step)", async () => {
    const account = randomAccount();
    const id = await smartWalletTransaction(account);
    const first = await claim(id, account);
    expect(await claim(id, account, 9n)).toBe(first);
  });

  it("hands the nonce of a transaction that failed to the next claim, and keeps the others' nonces", async () => {
    const account = randomAccount();
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => smartWalletTransaction(account)));
    expect(await claim(a!, account)).toBe(5n);
    expect(await claim(b!, account)).toBe(6n);
    await end(a!, "failed");
    expect(await claim(c!, account)).toBe(5n);
    expect(await listHeldUserOperationNonces(db, { chainId: 31337, account })).toEqual([
      { transactionId: c, nonce: 5n },
      { transactionId: b, nonce: 6n },
    ]);
  });

  it("keeps the nonce of a dead-lettered transaction, which may be replayed", async () => {
    const account = randomAccount();
    const [a, b] = await Promise.all([1, 2].map(() => smartWalletTransaction(account)));
    expect(await claim(a!, account)).toBe(5n);
    await end(a!, "dead-letter");
    expect(await claim(b!, account)).toBe(6n);
  });

  it("keeps claims of one account apart from another's", async () => {
    const [one, other] = [randomAccount(), randomAccount()];
    expect(await claim(await smartWalletTransaction(one), one)).toBe(5n);
    expect(await claim(await smartWalletTransaction(other), other)).toBe(5n);
  });
});
