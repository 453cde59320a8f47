/**
 * One token of a PKCS#11 module (SoftHSM2 in development and tests; a Luna or a cloud HSM in
 * production through the same calls), reached through `pkcs11js`. It makes secp256k1 key pairs
 * whose private half is sensitive and not extractable, lists them with their Ethereum addresses
 * (read from the public point), and signs 32-byte digests with CKM_ECDSA. Key material never
 * leaves the module: callers get addresses and raw signatures.
 *
 * `pkcs11js` is a native addon loaded on first use, so a process that never opens a token (or an
 * image built without install scripts) does not need it.
 */
import { existsSync } from "node:fs";
import { toHex, type Hex } from "viem";
import { publicKeyToAddress } from "viem/accounts";
import type * as Pkcs11Types from "pkcs11js";
import { ecPointOf } from "./signature.ts";

/** Debian's softhsm2 package installs its module here. */
export const DEBIAN_SOFTHSM2_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

/** DER of the secp256k1 OID (1.3.132.0.10): CKA_EC_PARAMS of every key this token makes. */
export const SECP256K1_OID_DER = Buffer.from("06052b8104000a", "hex");

export type HsmSettings = { modulePath: string; tokenLabel: string; pin: string };

export type HsmKey = { address: Hex; label: string };

export type HsmToken = {
  readonly tokenLabel: string;
  /** The secp256k1 signing keys on the token, by address (lower case). */
  keys(): HsmKey[];
  /** Reads the token's keys again (one made by another process since). */
  rescan(): void;
  /** Makes a secp256k1 key pair on the token and answers its address. */
  generateKey(label: string): HsmKey;
  /** r ‖ s of CKM_ECDSA over `digest` with the key of `address`, as the module answers it (unchecked). */
  signDigest(address: string, digest: Uint8Array): Buffer;
  close(): void;
};

export class HsmError extends Error {
  readonly code = "HSM_UNAVAILABLE";
}

/** HSM_MODULE_PATH, else Debian's SoftHSM2 module when it is installed; null when there is none. */
export function resolveHsmModulePath(configured: string | undefined): string | null {
  if (configured) return configured;
  return existsSync(DEBIAN_SOFTHSM2_MODULE) ? DEBIAN_SOFTHSM2_MODULE : null;
}

type Pkcs11Module = typeof Pkcs11Types;

async function loadPkcs11(): Promise<Pkcs11Module> {
  try {
    const imported = (await import("pkcs11js")) as Pkcs11Module & { default?: Pkcs11Module };
    return imported.default ?? imported;
  } catch (error) {
    throw new HsmError(`the pkcs11js addon cannot be loaded (installed without its build step, e.g. npm ci --ignore-scripts?): ${(error as Error).message}`, { cause: error });
  }
}

/** A loaded and initialised module (one per process and module path: C_Initialize is process-wide). */
type LoadedModule = { lib: Pkcs11Types.PKCS11; pkcs11: Pkcs11Module; users: number };
const loaded = new Map<string, LoadedModule>();

async function loadModule(modulePath: string): Promise<LoadedModule> {
  const existing = loaded.get(modulePath);
  if (existing) {
    existing.users += 1;
    return existing;
  }
  const pkcs11 = await loadPkcs11();
  const lib = new pkcs11.PKCS11();
  try {
    lib.load(modulePath);
    lib.C_Initialize();
  } catch (error) {
    throw new HsmError(`cannot load the PKCS#11 module ${modulePath}: ${(error as Error).message}`, { cause: error });
  }
  const module = { lib, pkcs11, users: 1 };
  loaded.set(modulePath, module);
  return module;
}

function releaseModule(modulePath: string): void {
  const module = loaded.get(modulePath);
  if (!module) return;
  module.users -= 1;
  if (module.users > 0) return;
  loaded.delete(modulePath);
  try {
    module.lib.C_Finalize();
  } finally {
    module.lib.close();
  }
}

/** A token label as PKCS#11 pads it (32 bytes, blanks or NULs), without the padding. */
const labelOf = (info: { label: string }) => info.label.replace(/[\s\0]+$/, "");

/** The slot holding an initialised token labelled `label`, or null. */
function findTokenSlot(module: LoadedModule, label: string): Pkcs11Types.Handle | null {
  const { lib, pkcs11 } = module;
  for (const slot of lib.C_GetSlotList(true)) {
    const info = lib.C_GetTokenInfo(slot);
    if ((info.flags & pkcs11.CKF_TOKEN_INITIALIZED) !== 0 && labelOf(info) === label) return slot;
  }
  return null;
}

/** Whether the module has an initialised token labelled `settings.tokenLabel`. */
export async function tokenExists(settings: Pick<HsmSettings, "modulePath" | "tokenLabel">): Promise<boolean> {
  const module = await loadModule(settings.modulePath);
  try {
    return findTokenSlot(module, settings.tokenLabel) !== null;
  } finally {
    releaseModule(settings.modulePath);
  }
}

/**
 * Initialises a token labelled `settings.tokenLabel` in the first free slot, with `soPin` for the
 * security officer and `settings.pin` for the user. An existing token with that label is left as
 * it is (answers false): initialising a slot again would wipe its keys.
 */
export async function initializeToken(settings: HsmSettings & { soPin: string }): Promise<boolean> {
  const module = await loadModule(settings.modulePath);
  const { lib, pkcs11 } = module;
  try {
    if (findTokenSlot(module, settings.tokenLabel)) return false;
    const free = lib.C_GetSlotList(true).find((slot) => (lib.C_GetTokenInfo(slot).flags & pkcs11.CKF_TOKEN_INITIALIZED) === 0);
    if (!free) throw new HsmError(`the PKCS#11 module ${settings.modulePath} has no free slot for a new token`);
    lib.C_InitToken(free, settings.soPin, settings.tokenLabel);
    const slot = findTokenSlot(module, settings.tokenLabel);
    if (!slot) throw new HsmError(`token ${settings.tokenLabel} was initialised but is not listed`);
    const session = lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
    try {
      lib.C_Login(session, pkcs11.CKU_SO, settings.soPin);
      lib.C_InitPIN(session, settings.pin);
      lib.C_Logout(session);
    } finally {
      lib.C_CloseSession(session);
    }
    return true;
  } finally {
    releaseModule(settings.modulePath);
  }
}

/**
 * Opens the token labelled `settings.tokenLabel`, logged in as its user; finds its secp256k1 keys.
 * A PKCS#11 failure while signing (the HSM restarted, the network to it dropped, the session gone)
 * is thrown, and the next call opens a new session first: a journaled step that retries waits the
 * outage out.
 */
export async function openHsmToken(settings: HsmSettings): Promise<HsmToken> {
  const module = await loadModule(settings.modulePath);
  const { lib, pkcs11 } = module;
  const openSession = (): Pkcs11Types.Handle => {
    const slot = findTokenSlot(module, settings.tokenLabel);
    if (!slot) throw new HsmError(`no initialised token labelled "${settings.tokenLabel}" in ${settings.modulePath}`);
    const opened = lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
    try {
      lib.C_Login(opened, pkcs11.CKU_USER, settings.pin);
    } catch (error) {
      lib.C_CloseSession(opened);
      // A second session of a process that is logged in already is logged in too.
      if ((error as Error).message.includes("CKR_USER_ALREADY_LOGGED_IN")) return lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
      throw new HsmError(`cannot log in to token "${settings.tokenLabel}": ${(error as Error).message}`, { cause: error });
    }
    return opened;
  };
  let session: Pkcs11Types.Handle;
  try {
    session = openSession();
  } catch (error) {
    releaseModule(settings.modulePath);
    throw error;
  }
  /** Set when a call failed: the session is opened again before the next one. */
  let broken = false;

  const find = (template: Pkcs11Types.Template): Pkcs11Types.Handle[] => {
    lib.C_FindObjectsInit(session, template);
    try {
      const found: Pkcs11Types.Handle[] = [];
      for (let batch = lib.C_FindObjects(session, 64); batch.length > 0; batch = lib.C_FindObjects(session, 64)) found.push(...batch);
      return found;
    } finally {
      lib.C_FindObjectsFinal(session);
    }
  };

  /** Private key handles by address, read once at open and after each key made here. */
  const privateKeys = new Map<string, { handle: Pkcs11Types.Handle; label: string }>();
  const scan = () => {
    privateKeys.clear();
    const publics = find([
      { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PUBLIC_KEY },
      { type: pkcs11.CKA_KEY_TYPE, value: pkcs11.CKK_EC },
    ]);
    for (const publicKey of publics) {
      const [params, point, id, label] = lib.C_GetAttributeValue(session, publicKey, [
        { type: pkcs11.CKA_EC_PARAMS },
        { type: pkcs11.CKA_EC_POINT },
        { type: pkcs11.CKA_ID },
        { type: pkcs11.CKA_LABEL },
      ]);
      if (!Buffer.isBuffer(params?.value) || !params.value.equals(SECP256K1_OID_DER) || !Buffer.isBuffer(point?.value) || !Buffer.isBuffer(id?.value)) continue;
      const address = publicKeyToAddress(toHex(ecPointOf(point.value))).toLowerCase();
      const [privateKey] = find([
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY },
        { type: pkcs11.CKA_ID, value: id.value },
      ]);
      if (privateKey) privateKeys.set(address, { handle: privateKey, label: Buffer.isBuffer(label?.value) ? label.value.toString("utf8") : "" });
    }
  };
  scan();

  return {
    tokenLabel: settings.tokenLabel,
    keys: () => [...privateKeys.entries()].map(([address, { label }]) => ({ address: address as Hex, label })),
    rescan: scan,
    generateKey: (label) => {
      // The key id ties the two halves together; it is random until the address is known.
      const id = Buffer.from(crypto.getRandomValues(new Uint8Array(20)));
      const pair = lib.C_GenerateKeyPair(
        session,
        { mechanism: pkcs11.CKM_EC_KEY_PAIR_GEN },
        [
          { type: pkcs11.CKA_TOKEN, value: true },
          { type: pkcs11.CKA_PRIVATE, value: false },
          { type: pkcs11.CKA_VERIFY, value: true },
          { type: pkcs11.CKA_EC_PARAMS, value: SECP256K1_OID_DER },
          { type: pkcs11.CKA_ID, value: id },
          { type: pkcs11.CKA_LABEL, value: label },
        ],
        [
          { type: pkcs11.CKA_TOKEN, value: true },
          { type: pkcs11.CKA_PRIVATE, value: true },
          { type: pkcs11.CKA_SIGN, value: true },
          { type: pkcs11.CKA_SENSITIVE, value: true },
          { type: pkcs11.CKA_EXTRACTABLE, value: false },
          { type: pkcs11.CKA_ID, value: id },
          { type: pkcs11.CKA_LABEL, value: label },
        ],
      );
      const [point] = lib.C_GetAttributeValue(session, pair.publicKey, [{ type: pkcs11.CKA_EC_POINT }]);
      if (!Buffer.isBuffer(point?.value)) throw new HsmError("the new key has no public point");
      const address = publicKeyToAddress(toHex(ecPointOf(point.value))).toLowerCase() as Hex;
      privateKeys.set(address, { handle: pair.privateKey, label });
      return { address, label };
    },
    signDigest: (address, digest) => {
      if (broken) {
        try {
          lib.C_CloseSession(session);
        } catch {
          // gone already
        }
        session = openSession();
        scan();
        broken = false;
      }
      const key = privateKeys.get(address.toLowerCase());
      if (!key) throw new HsmError(`token "${settings.tokenLabel}" holds no key for ${address}`);
      try {
        // Synchronous: one C_SignInit/C_Sign pair at a time on the session, never interleaved.
        lib.C_SignInit(session, { mechanism: pkcs11.CKM_ECDSA }, key.handle);
        return lib.C_Sign(session, Buffer.from(digest), Buffer.alloc(128));
      } catch (error) {
        broken = true;
        throw new HsmError(`token "${settings.tokenLabel}" failed to sign: ${(error as Error).message}`, { cause: error });
      }
    },
    close: () => {
      try {
        lib.C_CloseSession(session);
      } finally {
        releaseModule(settings.modulePath);
      }
    },
  };
}
