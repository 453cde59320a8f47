// @ts-check
/**
 * The DAPI client and the caller's session. The key is read from this tab's sessionStorage at each
 * call and sent only in the X-Api-Key header; answers come back as JSON, failures in the DAPI's
 * envelope `{ code, message, data, requestId }`.
 */
import { h } from "./dom.js";

export const KEY_STORAGE = "ddwf.console.apiKey";
export const API = "/api/v2/admin";
export const OPERATOR = `${API}/operator`;
/** Workflow names and keys the DAPI accepts (and the console puts in a link). */
export const IDENTIFIER = /^[A-Za-z0-9_-]+$/;

/**
 * @typedef {{ actorId: string, role: string, permissions: string[], operations: string[] }} Whoami
 * @typedef {{ code: string, message: string, data?: unknown, requestId?: string }} Envelope
 * @typedef {{ ok: boolean, status: number, body: any, requestId: string | null }} Answer
 */

/** @type {Whoami | null} */
let session = null;
/** @type {(message: string) => void} */
let onKeyRefused = () => {};

export const currentSession = () => session;

/** @param {Whoami | null} whoami */
export function setSession(whoami) {
  session = whoami;
}

/** What to do when the DAPI refuses the stored key in the middle of a session (sign out). */
export function whenKeyRefused(/** @type {(message: string) => void} */ handler) {
  onKeyRefused = handler;
}

/** Whether the DAPI's whoami answer lists the operation for this key. @param {string} operationId */
export const can = (operationId) => session !== null && session.operations.includes(operationId);

export function notAllowed(/** @type {string} */ what) {
  const who = session ? `${session.actorId} (role ${session.role})` : "this key";
  return h("div", { class: "panel", "data-testid": "not-allowed" }, `${what} is an operator route: the key of ${who} may not call it.`);
}

/** @param {Answer} answer */
export function describeFailure(answer) {
  const body = /** @type {Envelope | null} */ (answer.body);
  if (answer.status === 0) return "The DAPI did not answer (network error).";
  if (body && typeof body.code === "string") return `${body.code} (${answer.status}): ${body.message}${body.requestId ? `\nrequest ${body.requestId}` : ""}`;
  return `HTTP ${answer.status}`;
}

export const failurePanel = (/** @type {Answer} */ answer) => h("div", { class: "panel error", role: "alert" }, describeFailure(answer));

/**
 * @param {"GET" | "POST"} method
 * @param {string} path
 * @param {{ body?: unknown, reason?: string }} [options]
 * @returns {Promise<Answer>}
 */
export async function api(method, path, options = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (key) headers["X-Api-Key"] = key;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.reason) headers["X-Operator-Reason"] = options.reason;
  /** @type {Response} */
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
      referrerPolicy: "no-referrer",
    });
  } catch {
    return { ok: false, status: 0, body: null, requestId: null };
  }
  /** @type {unknown} */
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const answer = { ok: response.ok, status: response.status, body, requestId: response.headers.get("x-request-id") };
  if (response.status === 401 && session !== null) {
    onKeyRefused(`The DAPI no longer accepts this key: ${describeFailure(answer)}`);
  }
  return answer;
}
