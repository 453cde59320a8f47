/**
 * Binds every ddwf service to one Restate endpoint. Dependencies come in; nothing is read from the
 * environment here.
 */
import * as http2 from "node:http2";
import * as restate from "@restatedev/restate-sdk";
import type { Hex } from "viem";
import type { Database } from "../shared/db/client.ts";
import { recordCanaryStep } from "../shared/db/repositories/canary-steps.ts";
import type { ChainRegistry } from "../shared/evm/chain-access.ts";
import type { IndexerSource } from "../shared/evm/indexer-source.ts";
import type { Logger } from "../shared/logger.ts";
import { createRestateLogTransport } from "../shared/logger.ts";
import type { SignerRegistry } from "../shared/signers/signer-registry.ts";
import type { CustodyProvider } from "../shared/signers/custody/fireblocks.ts";
import type { SignOnlyPolicies } from "../shared/signers/sign-only-policy.ts";
import type { EngineMetrics } from "../shared/telemetry/engine-metrics.ts";
import type { RestateAdminClient } from "../shared/restate/admin-client.ts";
import { createTransactionProcessor } from "./transaction-processor/object.ts";
import { createProcessorSteps } from "./transaction-processor/steps.ts";
import { createTransactionSteps } from "./workflows/transaction-execution/steps.ts";
import { createCustodySteps } from "./workflows/transaction-execution/custody-steps.ts";
import { createSignOnlySteps } from "./workflows/transaction-execution/sign-only-steps.ts";
import { createAssetIssuanceSteps } from "./workflows/asset-issuance/steps.ts";
import { createAssetIssuanceWorkflow } from "./workflows/asset-issuance/workflow.ts";
import { createEngineCanary } from "./workflows/engine-canary/workflow.ts";
import { createIdentityRecoveryWorkflow } from "./workflows/identity-recovery/workflow.ts";
import { createWebhookDeliveryWorkflow } from "./workflows/webhook-delivery/workflow.ts";
import type { WebhookTransport } from "./workflows/webhook-delivery/steps.ts";
import { createTransactionReconciler } from "./workflows/reconciliation/object.ts";
import { createExchangeRateScheduler } from "./workflows/exchange-rate/object.ts";
import { createChainMonitor } from "./workflows/chain-monitor/object.ts";
import { createTransactionExecutionWorkflow } from "./workflows/transaction-execution/workflow.ts";
import { createSmartWalletSteps } from "./workflows/transaction-execution/smart-wallet-steps.ts";
import type { BundlerAccess } from "../shared/evm/erc4337/bundler.ts";

export type TransactionSettings = {
  confirmations: number;
  pollIntervalMs: number;
  stuckAfterMs: number;
  preBroadcastRetryMs: number;
  retentionMs: number;
  attributionSuffix: Hex;
  feeBumpPercent: number;
  maxFeePerGasGwei: number;
  /** Polling of the custody provider's transactions. */
  custody?: { pollIntervalMs: number; maxPollIntervalMs: number };
  /** The smart-wallet route's longest pause while the bundler's queue for an account is full. */
  smartWallet?: { maxBlockedRetryMs: number };
};

export type EndpointDependencies = {
  db: Database;
  logger: Logger;
  chains: ChainRegistry;
  signers: SignerRegistry;
  /** The custody route's provider; absent or null: custody selections are refused. */
  custody?: CustodyProvider | null;
  /** The sign-only route: the HSM's keys and the approval policy of each signer; absent or null: refused. */
  signOnly?: { signer: SignerRegistry; policies: SignOnlyPolicies } | null;
  /** The smart-wallet route's ERC-4337 bundler; absent or null: smart-wallet selections are refused. */
  bundler?: BundlerAccess | null;
  indexer: IndexerSource;
  metrics: EngineMetrics;
  transactions: TransactionSettings;
  /** The Restate admin API: the reconciler asks it which runs are live and clears finished ones. */
  admin: RestateAdminClient;
  webhooks: { retryScheduleMs: number[]; timeoutMs: number; retryAfterMaxMs: number; transport: WebhookTransport };
  reconciliation: { staleAfterMs: number; batchSize: number; reorgDepth: number };
  exchangeRates: { feedUrlTemplate: string | undefined; maxAgeMs: number };
  chainMonitor: { blockPollMs: number };
};

export function createServices(dependencies: EndpointDependencies) {
  const { db, chains, signers, metrics, transactions } = dependencies;
  const custody = dependencies.custody ? createCustodySteps({ db, chains, provider: dependencies.custody, attributionSuffix: transactions.attributionSuffix }) : null;
  const signOnly = dependencies.signOnly ? createSignOnlySteps({ db, signer: dependencies.signOnly.signer, policies: dependencies.signOnly.policies }) : null;
  const smartWallet = dependencies.bundler ? createSmartWalletSteps({ db, chains, bundler: dependencies.bundler }) : null;
  const transactionSteps = createTransactionSteps({ db, chains, signers, indexer: dependencies.indexer, metrics, custody, signOnly, smartWallet });
  const processorSteps = createProcessorSteps({
    db,
    chains,
    signers,
    hsm: dependencies.signOnly?.signer ?? null,
    metrics,
    settings: {
      feeBumpPercent: transactions.feeBumpPercent,
      maxFeePerGasGwei: transactions.maxFeePerGasGwei,
      attributionSuffix: transactions.attributionSuffix,
      confirmations: transactions.confirmations,
    },
  });
  return [
    createEngineCanary({ recordStep: (runKey, step) => recordCanaryStep(db, runKey, step), metrics }),
    createTransactionExecutionWorkflow({ db, steps: transactionSteps, metrics, settings: transactions }),
    createIdentityRecoveryWorkflow({ db, chains, metrics }),
    createAssetIssuanceWorkflow(createAssetIssuanceSteps({ db, chains, metrics }), metrics),
    createWebhookDeliveryWorkflow({
      db,
      metrics,
      transport: dependencies.webhooks.transport,
      settings: { retryScheduleMs: dependencies.webhooks.retryScheduleMs, timeoutMs: dependencies.webhooks.timeoutMs, retryAfterMaxMs: dependencies.webhooks.retryAfterMaxMs },
    }),
    createExchangeRateScheduler({ db, settings: dependencies.exchangeRates }),
    createChainMonitor({ chains, settings: { blockPollMs: dependencies.chainMonitor.blockPollMs } }),
    createTransactionReconciler({ db, chains, admin: dependencies.admin, metrics, settings: dependencies.reconciliation }),
    createTransactionProcessor({
      steps: processorSteps,
      settings: { broadcastRetryMs: transactions.preBroadcastRetryMs, followPollMs: dependencies.chainMonitor.blockPollMs },
    }),
  ];
}

export type RunningEndpoint = { port: number; serviceNames: string[]; close(): Promise<void> };

export async function listenEndpoint(
  dependencies: EndpointDependencies,
  parameters: {
    port: number;
    host: string;
    /** Public keys of the Restate servers allowed to call; when given, unsigned requests are refused. */
    identityKeys?: readonly string[];
  },
): Promise<RunningEndpoint> {
  const services = createServices(dependencies);
  const handler = restate.createEndpointHandler({
    services,
    logger: createRestateLogTransport(dependencies.logger),
    ...(parameters.identityKeys && parameters.identityKeys.length > 0 ? { identityKeys: [...parameters.identityKeys] } : {}),
  });
  const server = http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(parameters.port, parameters.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : parameters.port;
  return {
    port,
    serviceNames: services.map((service) => service.name),
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.close();
        server.close(() => resolve());
      }),
  };
}
