/**
 * Authentication by `X-Api-Key`. Keys are stored hashed; the repository finds the key by its hash and
 * compares in constant time. A missing, unknown or revoked key is UNAUTHENTICATED (401); the key
 * itself is never logged, stored or echoed.
 */
import { createMiddleware } from "hono/factory";
import { errorMessageOf } from "../../shared/errors.ts";
import { PERMISSIONS, type Permission } from "../auth/permissions.ts";
import type { DapiEnv } from "../context.ts";
import { DapiError } from "../errors.ts";
import { redactingLogger } from "../redact.ts";

export const API_KEY_HEADER = "X-Api-Key";

export function authenticate() {
  return createMiddleware<DapiEnv>(async (c, next) => {
    const presented = c.req.header(API_KEY_HEADER);
    if (!presented) {
      c.var.logger.info("operator request refused: no API key", { path: c.req.path });
      throw new DapiError("UNAUTHENTICATED", `the ${API_KEY_HEADER} header is missing`);
    }
    const { apiKeys } = c.var.services.stores;
    const key = await apiKeys.findByPlaintext(presented);
    if (!key) {
      c.var.logger.warn("operator request refused: unknown API key", { path: c.req.path });
      throw new DapiError("UNAUTHENTICATED", `the ${API_KEY_HEADER} header does not match an active API key`);
    }
    c.set("presentedApiKey", presented);
    // From here on the key is masked in every log line of the request, whatever field it lands in.
    c.set("logger", redactingLogger(c.var.logger, { secrets: [presented] }));
    c.set("principal", {
      keyId: key.id,
      actorId: key.actorId,
      role: key.role,
      permissions: key.permissions.filter((permission): permission is Permission => (PERMISSIONS as readonly string[]).includes(permission)),
    });
    apiKeys.touch(key.id).catch((error: unknown) => c.var.logger.warn("could not record API key use", { keyId: key.id, error: errorMessageOf(error) }));
    await next();
  });
}
