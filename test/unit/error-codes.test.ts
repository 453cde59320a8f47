import { HttpCallError } from "@restatedev/restate-sdk-clients";
import { describe, expect, it } from "vitest";
import { DomainTerminalError, errorCodeOf } from "../../shared/errors.ts";

describe("errorCodeOf", () => {
  it("reads the code from a terminal error's metadata", () => {
    expect(errorCodeOf(new DomainTerminalError("TRANSACTION_NOT_FOUND", "no transaction", { httpStatus: 404 }))).toBe("TRANSACTION_NOT_FOUND");
  });

  it("reads the code an ingress client's failed call carries in its response body", () => {
    const body = JSON.stringify({ code: 404, message: "no transaction tx_1", metadata: { code: "TRANSACTION_NOT_FOUND" }, source: "invocation" });
    expect(errorCodeOf(new HttpCallError(404, body, `Request failed: 404\n${body}`))).toBe("TRANSACTION_NOT_FOUND");
  });

  it("has no code for a response body that is not a Restate error", () => {
    expect(errorCodeOf(new HttpCallError(502, "<html>bad gateway</html>", "Request failed: 502"))).toBeUndefined();
  });
});
