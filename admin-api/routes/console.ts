/**
 * The operator console: one static page and its script and style sheet (admin-api/console/), served
 * as they are, with no build step. The page calls the public DAPI routes with the operator's key from
 * the tab's sessionStorage; nothing here needs a key, because nothing here holds data.
 *
 * Every console response carries a strict Content-Security-Policy: scripts, styles and requests only
 * from this origin, no inline script or style, no eval, no form submissions (a form can never carry
 * the key into a URL), no framing, and Trusted Types enforced, so an HTML sink fed a string throws
 * instead of parsing engine text as markup.
 */
import { readFile } from "node:fs/promises";
import { Hono } from "hono";
import type { DapiEnv } from "../context.ts";

export const CONSOLE_PATH = "/console";

export const CONSOLE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

const CONSOLE_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CONSOLE_CONTENT_SECURITY_POLICY,
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
};

/** URL path → file under admin-api/console/ and its content type. */
const CONSOLE_FILES: Record<string, { file: string; type: string }> = {
  [CONSOLE_PATH]: { file: "index.html", type: "text/html; charset=utf-8" },
  [`${CONSOLE_PATH}/console.js`]: { file: "console.js", type: "text/javascript; charset=utf-8" },
  [`${CONSOLE_PATH}/console.css`]: { file: "console.css", type: "text/css; charset=utf-8" },
};

/** Paths the console serves (GET), for the DAPI's 405 answers. */
export const CONSOLE_ROUTES = Object.keys(CONSOLE_FILES);

export function createConsoleRoutes(): Hono<DapiEnv> {
  const routes = new Hono<DapiEnv>();
  const folder = new URL("../console/", import.meta.url);
  // Read on first use, then kept: the files change only with a new release.
  const cache = new Map<string, Promise<string>>();
  const read = (file: string) => {
    let text = cache.get(file);
    if (!text) {
      text = readFile(new URL(file, folder), "utf8");
      text.catch(() => cache.delete(file));
      cache.set(file, text);
    }
    return text;
  };
  for (const [path, { file, type }] of Object.entries(CONSOLE_FILES)) {
    routes.get(path, async (c) => c.body(await read(file), 200, { ...CONSOLE_HEADERS, "Content-Type": type }));
  }
  // One address for the page, whichever way it is typed.
  routes.get(`${CONSOLE_PATH}/`, (c) => c.redirect(CONSOLE_PATH, 308));
  return routes;
}
