/**
 * Which signer route executes a transaction: the direct EOA route, a custody provider with its own
 * approval, or a sign-only HSM behind a quorum of approvers. The smart-wallet route is part of the
 * type so that selecting it is a clear terminal rejection today and a typed extension point
 * tomorrow (ERC-4337 multisig).
 */
import { z } from "zod";

export const executorSelectionSchema = z.discriminatedUnion("route", [
  z.object({ route: z.literal("eoa") }).strict(),
  z.object({ route: z.literal("custody"), provider: z.string().min(1), vaultId: z.string().min(1) }).strict(),
  z.object({ route: z.literal("sign-only"), provider: z.string().min(1), policyId: z.string().min(1).optional() }).strict(),
  z.object({ route: z.literal("smart-wallet"), wallet: z.string().regex(/^0x[0-9a-fA-F]{40}$/), threshold: z.number().int().positive() }).strict(),
]);

export type ExecutorSelection = z.infer<typeof executorSelectionSchema>;
export type SignerRouteKind = ExecutorSelection["route"];

export const IMPLEMENTED_ROUTES: readonly SignerRouteKind[] = ["eoa", "custody", "sign-only"];

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
