/**
 * `npm run dapi:key -- --role operator [--actor <id>]`: creates a DAPI API key and prints it once.
 * Only its SHA-256 hash is stored. The key goes alone to stdout (easy to capture in a script); the
 * explanation goes to stderr. The database is the one of the configuration (DATABASE_URL, else the
 * PGlite folder); while `npm start` runs, pass the database URL it printed.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../../shared/config.ts";
import { openDatabase } from "../../shared/db/client.ts";
import { migrateDatabase } from "../../shared/db/migrate.ts";
import { createApiKey } from "../../shared/db/repositories/api-keys.ts";
import { ROLE_PERMISSIONS, ROLES, type Role } from "../auth/permissions.ts";

const USAGE = `usage: npm run dapi:key -- --role <${ROLES.join("|")}> [--actor <actor id>]`;

function fail(message: string, code = 64): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(code);
}

let parsed;
try {
  parsed = parseArgs({ options: { role: { type: "string" }, actor: { type: "string" }, help: { type: "boolean" } }, strict: true });
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (parsed.values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const role = parsed.values.role;
if (!role || !(ROLES as readonly string[]).includes(role)) fail(`--role must be one of ${ROLES.join(", ")}`);
const actorId = parsed.values.actor ?? `${role}-${randomBytes(4).toString("hex")}`;
if (!/^[A-Za-z0-9._@:-]{1,200}$/.test(actorId)) fail("--actor must be 1-200 characters of letters, digits, . _ @ : -");

let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  fail(error instanceof ConfigError ? error.message : String(error), 78);
}

const database = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDataDir: config.PGLITE_DATA_DIR, poolSize: 2 });
try {
  await migrateDatabase(database.sql);
  const created = await createApiKey(database.db, { actorId, role, permissions: [...ROLE_PERMISSIONS[role as Role]] });
  process.stderr.write(`API key ${created.id} for actor ${actorId} (role ${role}); shown once, only its hash is stored:\n`);
  process.stdout.write(`${created.key}\n`);
} finally {
  await database.close();
}
