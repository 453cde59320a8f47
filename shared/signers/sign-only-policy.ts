/**
 * The approval policy of each sign-only signer (SIGN_ONLY_POLICIES): which approvers may approve
 * its transactions, how many approvals release the signing (M of N), and how long the wait lasts
 * before the transaction ends `failed` with APPROVAL_EXPIRED.
 *
 *   {"0x<signer>": {"approvers": ["0x<a>", "0x<b>", "0x<c>"], "threshold": 2, "expiresAfterSeconds": 3600}}
 */
import { getAddress, isAddress } from "viem";
import { z } from "zod";

export type SignOnlyPolicy = {
  /** The signer's address, lower case. */
  signer: string;
  /** The approvers' addresses, lower case, without repeats. */
  approvers: string[];
  /** Approvals needed (M of the N approvers). */
  threshold: number;
  /** How long after the wait begins it expires. */
  expiresAfterMs: number;
};

export type SignOnlyPolicies = Record<string, SignOnlyPolicy>;

const address = z.string().refine((value) => isAddress(value, { strict: false }), "must be a 0x address of 40 hex digits");

const policyEntry = z
  .object({
    approvers: z.array(address).min(1, "must name at least one approver").max(50, "must name at most 50 approvers"),
    threshold: z.number({ error: "must be a number" }).int("must be a whole number").min(1, "must be at least 1"),
    expiresAfterSeconds: z.number({ error: "must be a number" }).int("must be a whole number").min(1, "must be at least 1").max(30 * 24 * 3600, "must be at most 30 days"),
  })
  .strict();

/** Parses SIGN_ONLY_POLICIES; a bad value throws with the signer and field named. */
export function parseSignOnlyPolicies(text: string): SignOnlyPolicies {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('must be JSON: {"0x<signer>": {"approvers": ["0x…"], "threshold": 2, "expiresAfterSeconds": 3600}}');
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error("must be a JSON object keyed by signer address");
  const policies: SignOnlyPolicies = {};
  for (const [signer, value] of Object.entries(json)) {
    if (!isAddress(signer, { strict: false })) throw new Error(`${signer}: the key must be a signer's 0x address`);
    const parsed = policyEntry.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length > 0 ? issue.path.join(".") : "(entry)";
      throw new Error(`${signer}.${field}: ${issue.code === "unrecognized_keys" ? `unknown field ${issue.keys.join(", ")}` : issue.message}`);
    }
    const approvers = parsed.data.approvers.map((approver) => getAddress(approver).toLowerCase());
    if (new Set(approvers).size !== approvers.length) throw new Error(`${signer}.approvers: names an approver twice`);
    if (parsed.data.threshold > approvers.length) throw new Error(`${signer}.threshold: must be at most the number of approvers (${approvers.length})`);
    const key = signer.toLowerCase();
    if (policies[key]) throw new Error(`${signer}: has two policies`);
    policies[key] = { signer: key, approvers, threshold: parsed.data.threshold, expiresAfterMs: parsed.data.expiresAfterSeconds * 1000 };
  }
  return policies;
}
