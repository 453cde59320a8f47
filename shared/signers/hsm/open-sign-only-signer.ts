/**
 * The sign-only route's HSM signer and policies as the configuration names them, or null when the
 * route is off (HSM_TOKEN_LABEL unset). A module that cannot be found or loaded, a token that is
 * not there, or a PIN the token refuses stops the start with the variable named.
 */
import type { Config } from "../../config.ts";
import { ConfigError } from "../../config.ts";
import type { SignOnlyPolicies } from "../sign-only-policy.ts";
import { createHsmSigner, type HsmSigner } from "./hsm-signer.ts";
import { openHsmToken, resolveHsmModulePath } from "./pkcs11-token.ts";

export type SignOnlySigner = {
  signer: HsmSigner;
  policies: SignOnlyPolicies;
  modulePath: string;
  tokenLabel: string;
  /** Policies whose signer has no key in the token (refused until one is made). */
  signersWithoutKey: string[];
};

export async function openSignOnlySigner(
  config: Pick<Config, "HSM_MODULE_PATH" | "HSM_TOKEN_LABEL" | "HSM_PIN" | "SIGN_ONLY_POLICIES">,
  options?: { onInvalidSignature?: (address: string) => void },
): Promise<SignOnlySigner | null> {
  if (!config.HSM_TOKEN_LABEL || !config.HSM_PIN) return null;
  const modulePath = resolveHsmModulePath(config.HSM_MODULE_PATH);
  if (!modulePath) throw new ConfigError([{ variable: "HSM_MODULE_PATH", problem: "is unset and SoftHSM2 is not installed (/usr/lib/softhsm/libsofthsm2.so); name the PKCS#11 module" }]);
  let token;
  try {
    token = await openHsmToken({ modulePath, tokenLabel: config.HSM_TOKEN_LABEL, pin: config.HSM_PIN });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const variable = /log in/.test(message) ? "HSM_PIN" : /no initialised token/.test(message) ? "HSM_TOKEN_LABEL" : "HSM_MODULE_PATH";
    throw new ConfigError([{ variable, problem: message }]);
  }
  const signer = createHsmSigner({ token, ...(options?.onInvalidSignature ? { onInvalidSignature: options.onInvalidSignature } : {}) });
  const policies = config.SIGN_ONLY_POLICIES ?? {};
  return {
    signer,
    policies,
    modulePath,
    tokenLabel: config.HSM_TOKEN_LABEL,
    signersWithoutKey: Object.keys(policies).filter((address) => !signer.has(address)),
  };
}
