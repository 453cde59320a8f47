/**
 * Making sign-only keys: a secp256k1 key pair generated inside the token (the private half
 * sensitive and not extractable), with the token initialised first when asked and missing. Used by
 * `npm run hsm:key` and by `npm start` for its development token.
 */
import type { Hex } from "viem";
import { initializeToken, openHsmToken, tokenExists, type HsmSettings } from "./pkcs11-token.ts";

export type ProvisionKeyParameters = HsmSettings & {
  /** Label of the new key. */
  keyLabel: string;
  /** Initialise the token when no token carries `tokenLabel` (with this security-officer PIN). */
  initializeWithSoPin?: string;
  /** Reuse a key already labelled `keyLabel` instead of making another. */
  reuseLabelled?: boolean;
};

export type ProvisionedKey = { address: Hex; created: boolean; tokenCreated: boolean };

export async function provisionHsmKey(parameters: ProvisionKeyParameters): Promise<ProvisionedKey> {
  let tokenCreated = false;
  if (parameters.initializeWithSoPin !== undefined && !(await tokenExists(parameters))) {
    tokenCreated = await initializeToken({ ...parameters, soPin: parameters.initializeWithSoPin });
  }
  const token = await openHsmToken(parameters);
  try {
    const existing = parameters.reuseLabelled ? token.keys().find((key) => key.label === parameters.keyLabel) : undefined;
    if (existing) return { address: existing.address, created: false, tokenCreated };
    return { address: token.generateKey(parameters.keyLabel).address, created: true, tokenCreated };
  } finally {
    token.close();
  }
}
