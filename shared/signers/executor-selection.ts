/**
 * Which signer route executes a transaction: the direct EOA route, a custody provider with its own
 * approval, a sign-only HSM behind a quorum of approvers, or an ERC-4337 smart account (a Safe with
 * its 4337 module) whose owners sign the user operation, M of N. A smart account that does not
 * exist yet is named with its owners and salt nonce: its address follows from them, and its first
 * user operation deploys it.
 */
import { z } from "zod";

export const executorSelectionSchema = z.discriminatedUnion("route", [
  z.object({ route: z.literal("eoa") }).strict(),
  z.object({ route: z.literal("custody"), provider: z.string().min(1), vaultId: z.string().min(1) }).strict(),
  z.object({ route: z.literal("sign-only"), provider: z.string().min(1), policyId: z.string().min(1).optional() }).strict(),
  z
    .object({
      route: z.literal("smart-wallet"),
      /** The smart account's address (the operation's signerAddress). */
      wallet: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
      /** Owner signatures needed (the account's own threshold). */
      threshold: z.number().int().positive(),
      /** For an account not deployed yet: its owners and salt nonce (decimal), from which its address follows. */
      account: z
        .object({ owners: z.array(z.string().regex(/^0x[0-9a-fA-F]{40}$/)).min(1).max(20), saltNonce: z.string().regex(/^[0-9]{1,78}$/) })
        .strict()
        .optional(),
    })
    .strict(),
]);

export type ExecutorSelection = z.infer<typeof executorSelectionSchema>;
export type SignerRouteKind = ExecutorSelection["route"];

export const IMPLEMENTED_ROUTES: readonly SignerRouteKind[] = ["eoa", "custody", "sign-only", "smart-wallet"];

/** Two selections are the same when their canonical JSON is (key order does not matter). */
export function sameExecutorSelection(a: ExecutorSelection, b: ExecutorSelection): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with object keys sorted at every level: equal for equal values, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
