export * from "./transactions.ts";
export * from "./operations-audit-log.ts";
export * from "./api-keys.ts";
export * from "./webhooks.ts";
export * from "./dead-letters.ts";
export * from "./canary-steps.ts";
export * from "./recovery-invitations.ts";
export * from "./reconciliation-reports.ts";
