import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * postgres.js 3.4.x crashes the process when a connection closes while a small write waits in a
 * setImmediate (porsager/postgres#1154); `postinstall` guards it (infra/patches/postgres-driver.mjs).
 * The worker tests that take the database away crash the worker without it.
 */
describe("the installed postgres driver", () => {
  for (const file of ["node_modules/postgres/src/connection.js", "node_modules/postgres/cjs/src/connection.js"]) {
    it(`guards writes to a closed socket in ${file}`, () => {
      const source = readFileSync(file, "utf8");
      expect(source).toContain("/* ddwf: null-socket guard */");
      expect(source.match(/chunk = nextWriteTimer = null/g)?.length).toBeGreaterThanOrEqual(3);
    });
  }
});
