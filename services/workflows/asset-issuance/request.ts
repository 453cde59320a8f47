/**
 * The issuance request, validated with zod where it enters: by the typed client before anything is
 * stored, and by the workflow's input serde for a request that comes straight through ingress.
 * Each refusal names the field.
 */
import { z } from "zod";
import { executorSelectionSchema } from "../../../shared/signers/executor-selection.ts";

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be a 20-byte hex address")
  .transform((value) => value.toLowerCase() as `0x${string}`);
const positiveAmount = z
  .string()
  .regex(/^\d+$/, { message: "must be an integer amount in the token's base units, in decimal", abort: true })
  .refine((value) => BigInt(value) > 0n && BigInt(value) < 2n ** 256n, "must be above 0 and below 2^256");

/** The key of AssetIssuanceWorkflow; its transaction ids append `-<step>`, which keeps them within 128 characters. */
export const ISSUANCE_ID_PATTERN = /^[A-Za-z0-9_-]{1,96}$/;

export const issuanceRequestSchema = z
  .object({
    organizationId: z.string().min(1).max(128),
    chainId: z.number().int().positive(),
    /** IdentityRegistry: investors' identities and jurisdictions, and where the token is registered. */
    identityRegistry: address,
    issuer: z
      .object({
        /** Deploys the token, becomes its agent and signs every step. */
        signerAddress: address,
        executor: executorSelectionSchema,
      })
      .strict(),
    /** Grants and revokes the token's agent role; the issuer when absent. */
    tokenAdmin: address.optional(),
    token: z
      .object({
        name: z.string().min(1).max(64),
        symbol: z.string().regex(/^[A-Za-z0-9]{1,11}$/, "must be 1-11 letters or digits"),
        decimals: z.number().int().min(0).max(18),
      })
      .strict(),
    allocations: z
      .array(z.object({ investor: address, amount: positiveAmount }).strict())
      .min(1)
      .max(100),
    compliance: z
      .object({
        maxHolders: z.number().int().min(1).max(1_000_000),
        /** ISO 3166-1 numeric country codes whose investors may hold the token. */
        allowedJurisdictions: z.array(z.number().int().min(1).max(999)).min(1).max(250),
      })
      .strict(),
  })
  .strict()
  .superRefine((request, issues) => {
    const seen = new Set<string>();
    for (const [index, allocation] of request.allocations.entries()) {
      if (seen.has(allocation.investor)) {
        issues.addIssue({ code: "custom", path: ["allocations", index, "investor"], message: "appears twice; give each investor one allocation" });
      }
      seen.add(allocation.investor);
    }
    if (request.compliance.maxHolders < request.allocations.length) {
      issues.addIssue({
        code: "custom",
        path: ["compliance", "maxHolders"],
        message: `is ${request.compliance.maxHolders}, below the ${request.allocations.length} investors of the initial allocation`,
      });
    }
    if (new Set(request.compliance.allowedJurisdictions).size !== request.compliance.allowedJurisdictions.length) {
      issues.addIssue({ code: "custom", path: ["compliance", "allowedJurisdictions"], message: "lists a jurisdiction twice" });
    }
  });

/** What callers send. */
export type IssuanceRequestInput = z.input<typeof issuanceRequestSchema>;
/** What the workflow works with: addresses in lower case. */
export type IssuanceRequest = z.output<typeof issuanceRequestSchema>;

/** The request's problems, one `field: message` each, or null when it is valid. */
export function describeRequestIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join(".") || "(request)"}: ${issue.message}`);
}
