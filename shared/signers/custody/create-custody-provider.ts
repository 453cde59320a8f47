/** The custody provider the configuration names, or null when the custody route is off. */
import { readFile } from "node:fs/promises";
import type { Config } from "../../config.ts";
import { ConfigError } from "../../config.ts";
import { createFireblocksProvider, type CustodyProvider } from "./fireblocks.ts";

/**
 * Reads the API user's secret key file once. A file that cannot be read or holds no PEM private key
 * stops the start with the variable named, like any bad configuration.
 */
export async function createCustodyProvider(config: Pick<Config, "FIREBLOCKS_API_KEY" | "FIREBLOCKS_SECRET_KEY_PATH" | "FIREBLOCKS_BASE_PATH" | "FIREBLOCKS_ASSET_ID">): Promise<CustodyProvider | null> {
  if (!config.FIREBLOCKS_API_KEY || !config.FIREBLOCKS_SECRET_KEY_PATH) return null;
  let secretKey: string;
  try {
    secretKey = await readFile(config.FIREBLOCKS_SECRET_KEY_PATH, "utf8");
  } catch (error) {
    throw new ConfigError([{ variable: "FIREBLOCKS_SECRET_KEY_PATH", problem: `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` }]);
  }
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(secretKey)) {
    throw new ConfigError([{ variable: "FIREBLOCKS_SECRET_KEY_PATH", problem: "does not hold a PEM private key" }]);
  }
  return createFireblocksProvider({ apiKey: config.FIREBLOCKS_API_KEY, secretKey, basePath: config.FIREBLOCKS_BASE_PATH, assetId: config.FIREBLOCKS_ASSET_ID });
}
