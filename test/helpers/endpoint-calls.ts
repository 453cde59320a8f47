/**
 * Calls to a worker endpoint made the way something other than Restate would make them: unsigned,
 * or carrying a request-identity JWT signed by a key of the caller's choosing.
 */
import { sign, type KeyObject } from "node:crypto";
import { connect } from "node:http2";
import { identityPublicKey } from "../../shared/restate/request-identity.ts";

/** A request-identity JWT as restate-server makes one: EdDSA, kid = public key, aud = the path. */
export function identityJwt(key: KeyObject, path: string): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${encode({ typ: "JWT", alg: "EdDSA", kid: identityPublicKey(key) })}.${encode({ aud: path, iat: now, nbf: now - 60, exp: now + 60 })}`;
  return `${unsigned}.${sign(null, Buffer.from(unsigned), key).toString("base64url")}`;
}

/** The headers restate-server sends with a signed request to `path`. */
export function signedHeaders(key: KeyObject, path: string): Record<string, string> {
  return { "x-restate-signature-scheme": "v1", "x-restate-jwt-v1": identityJwt(key, path) };
}

/** GET `path` on an h2c endpoint (a worker, or the balancer in front of replicas); resolves to the HTTP status. */
export function callEndpoint(url: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = connect(url);
    session.on("error", reject);
    const request = session.request({ ":method": "GET", ":path": path, accept: "application/vnd.restate.endpointmanifest.v4+json", ...headers });
    request.on("response", (response) => {
      resolve(Number(response[":status"]));
      request.close();
      session.close();
    });
    request.on("error", reject);
    request.end();
  });
}
