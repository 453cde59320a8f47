/**
 * The operator console: one static page, its script (ES modules) and its style sheet
 * (admin-api/console/), served as they are, with no build step. The page calls the public DAPI routes with the operator's key from
 * the tab's sessionStorage; nothing here needs a key, because nothing here holds data.
 *
 * Every console response carries a strict Content-Security-Policy: scripts, styles and requests only
 * from this origin, no inline script or style, no eval, no form submissions (a form can never carry
 * the key into a URL), no framing, and Trusted Types enforced, so an HTML sink fed a string throws
 * instead of parsing engine text as markup.
 */
import { readFile } from "node:fs/promises";
import { Hono, type Context } from "hono";
import type { DapiEnv } from "../context.ts";
import { DapiError } from "../errors.ts";

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

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

/**
 * The files served below /console: the script's modules and the style sheet, named by lower-case
 * letters and dashes plus their extension, so no path can leave admin-api/console/ (or reach its
 * tsconfig.json).
 */
const ASSET = "[a-z][a-z-]*\\.(?:js|css)";
const MODULE = "[a-z][a-z-]*\\.js";

/** The page's path (GET), for the DAPI's 405 answers; a wrong method on a file is simply not found. */
export const CONSOLE_ROUTES = [CONSOLE_PATH];

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
  const serve = async (c: Context<DapiEnv>, file: string) => {
    let body: string;
    try {
      body = await read(file);
    } catch {
      throw new DapiError("ROUTE_NOT_FOUND", `no console file ${c.req.path}`);
    }
    const type = CONTENT_TYPES[file.slice(file.lastIndexOf(".") + 1)] ?? "application/octet-stream";
    return c.body(body, 200, { ...CONSOLE_HEADERS, "Content-Type": type });
  };
  routes.get(CONSOLE_PATH, (c) => serve(c, "index.html"));
  routes.get(`${CONSOLE_PATH}/:file{${ASSET}}`, (c) => serve(c, c.req.param("file")));
  routes.get(`${CONSOLE_PATH}/views/:file{${MODULE}}`, (c) => serve(c, `views/${c.req.param("file")}`));
  // One address for the page, whichever way it is typed.
  routes.get(`${CONSOLE_PATH}/`, (c) => c.redirect(CONSOLE_PATH, 308));
  return routes;
}
