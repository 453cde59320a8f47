/**
 * Everything a transaction test needs: fresh funded senders, a worker process that holds their
 * keys (fast polling, short stuck threshold), the typed client, and the database to check records.
 */
import { inject } from "vitest";
import { encodeFunctionData, type Hex } from "viem";
import { compiledContract } from "../../infra/contracts/compile.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { connectDatabase } from "../../shared/db/client.ts";
import type { TransactionPhase } from "../../services/workflows/transaction-execution/status.ts";
import { createTransactionClient, type SubmitTransactionParameters } from "../../services/workflows/transaction-execution/client.ts";
import { createChainTools, type Sender } from "./chain.ts";
import { createWorkerProcess, workerEnvironment } from "./worker-process.ts";

export type TransactionHarnessOptions = {
  senders: number;
  env?: Record<string, string>;
  name?: string;
};

export async function startTransactionHarness(options: TransactionHarnessOptions) {
  const stack = inject("stack");
  const databaseUrl = inject("databaseUrl");
  const tools = createChainTools(stack);
  const senders: Sender[] = [];
  for (let i = 0; i < options.senders; i++) senders.push(await tools.newSender());
  const env = await workerEnvironment(stack, databaseUrl, {
    SIGNER_DEV_KEYS: senders.map((sender) => sender.privateKey).join(","),
    TX_RECEIPT_POLL_INTERVAL_MS: "200",
    TX_STUCK_AFTER_MS: "3000",
    TX_PREBROADCAST_RETRY_BUDGET_MS: "20000",
    TX_ATTRIBUTION_SUFFIX: "0xdd01",
    LOG_LEVEL: "info",
    ...options.env,
  });
  const worker = createWorkerProcess(stack, env, options.name ?? "tx-worker");
  await worker.start();
  const database = connectDatabase({ url: databaseUrl, embedded: true, poolSize: 4 });
  const client = createTransactionClient({ db: database.db, ingressUrl: stack.restateIngressUrl });
  const organizationId = `org-${crypto.randomUUID().slice(0, 8)}`;
  const newTransactionId = () => `tx_${crypto.randomUUID()}`;

  /** Submits a call (or a transfer, without `data`) from `signer` on the EOA route; returns its id. */
  const submit = async (
    signer: Hex,
    target: Hex | null,
    request: Partial<Omit<SubmitTransactionParameters, "signerAddress" | "target">> = {},
  ): Promise<string> => {
    const transactionId = request.transactionId ?? newTransactionId();
    await client.submitTransaction({
      transactionId,
      organizationId,
      chainId: stack.chainId,
      signerAddress: signer,
      target,
      executor: { route: "eoa" },
      ...request,
    });
    return transactionId;
  };

  /** Waits until the transaction's status shows `phase`. */
  const waitForPhase = (transactionId: string, phase: TransactionPhase, timeoutMs = 30_000) =>
    waitFor(`transaction ${transactionId} to be ${phase}`, async () => (await client.getTransactionStatus(transactionId))?.phase === phase, { timeoutMs, intervalMs: 100 });

  /** An ExecutionProbe deployed by the first sender, for the routes' tests: its address, its ABI and `poke(tag)`'s call data. */
  const deployProbe = async () => {
    const contract = await compiledContract("ExecutionProbe");
    const probe = await tools.deploy("ExecutionProbe", senders[0]!);
    const pokeData = (tag: number): Hex => encodeFunctionData({ abi: contract.abi, functionName: "poke", args: [BigInt(tag)] });
    return { contract, probe, pokeData };
  };

  return {
    stack,
    tools,
    senders,
    worker,
    db: database.db,
    client,
    organizationId,
    newTransactionId,
    submit,
    waitForPhase,
    deployProbe,
    stop: async () => {
      await worker.stop();
      await database.close();
    },
  };
}

export type TransactionHarness = Awaited<ReturnType<typeof startTransactionHarness>>;
