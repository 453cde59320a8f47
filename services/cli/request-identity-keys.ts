/**
 * `npm run identity:keys -- <private dir> [<public dir>]`: makes sure an ed25519 request-identity
 * key pair exists (created once, kept afterwards) and prints its public key. restate-server signs
 * with `<private dir>/restate-identity.pem`; the worker is given the printed key in
 * RESTATE_IDENTITY_KEYS (also written to `<public dir>/restate-identity.pub`). docker-compose runs
 * this as its `restate-identity` service.
 */
import { ensureRequestIdentityKeys } from "../../shared/restate/request-identity.ts";

const [privateDir, publicDir] = process.argv.slice(2);
if (!privateDir) {
  process.stderr.write("usage: npm run identity:keys -- <private dir> [<public dir>]\n");
  process.exit(64);
}
const { privateKeyFile, publicKey } = await ensureRequestIdentityKeys(privateDir, publicDir ?? privateDir);
process.stderr.write(`restate-server signs with ${privateKeyFile}; give the worker RESTATE_IDENTITY_KEYS=${publicKey}\n`);
process.stdout.write(`${publicKey}\n`);
