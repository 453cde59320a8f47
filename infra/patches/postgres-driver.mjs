/**
 * Patches postgres.js (3.4.x) where a closed connection crashes the process or stays stuck:
 * a small write is sent from a setImmediate callback, and when the socket closes first, that
 * callback writes to a null socket and throws where no caller can catch it (porsager/postgres
 * #1066, #1154, #1208; fixes proposed in #1168 and #1176, not released). The teardown also leaves
 * the write timer set, so the pooled connection never flushes a write again after it reconnects.
 *
 * Run by `postinstall`; plain JavaScript so any Node.js runs it. Idempotent; when the driver's code
 * no longer has the shape patched here (a fixed release), it says so and changes nothing.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const MARKER = "/* ddwf: null-socket guard */";
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "node_modules", "postgres");
const files = [join(root, "src", "connection.js"), join(root, "cjs", "src", "connection.js")];

const replacements = [
  [
    "  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)",
    `  function nextWrite(fn) {\n    ${MARKER}\n    if (!socket) {\n      chunk = nextWriteTimer = null\n      return false\n    }\n    const x = socket.write(chunk, fn)`,
  ],
  // terminate() and closed(): forget the scheduled write with the socket it was meant for.
  ["    clearImmediate(nextWriteTimer)\n    if (socket) {", "    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    if (socket) {"],
  ["    clearImmediate(nextWriteTimer)\n    socket.removeListener('data', data)", "    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    socket.removeListener('data', data)"],
];

let patched = 0;
for (const file of files) {
  if (!existsSync(file)) continue;
  let source = readFileSync(file, "utf8");
  if (source.includes(MARKER)) continue;
  const missing = replacements.filter(([from]) => !source.includes(from));
  if (missing.length > 0) {
    console.warn(`postgres driver patch: ${file} has changed shape; left as it is (check porsager/postgres#1154 is fixed)`);
    continue;
  }
  for (const [from, to] of replacements) source = source.replace(from, to);
  writeFileSync(file, source);
  patched += 1;
}
if (patched > 0) console.log(`postgres driver patch: guarded ${patched} file(s) against writes to a closed socket`);
