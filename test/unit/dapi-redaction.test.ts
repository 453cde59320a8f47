import { describe, expect, it } from "vitest";
import { redactUrlUserInfo, sanitizeArguments } from "../../admin-api/redact.ts";

describe("URL user information redaction", () => {
  it("replaces user and password with REDACTED and keeps host, port, path, query and fragment byte for byte", () => {
    expect(redactUrlUserInfo("https://deployer:s3cret@Worker.internal:9080/v1/?a=1&b=two#part")).toBe(
      "https://REDACTED@Worker.internal:9080/v1/?a=1&b=two#part",
    );
  });

  it("redacts a user name without a password", () => {
    expect(redactUrlUserInfo("http://token@host/")).toBe("http://REDACTED@host/");
  });

  it("redacts up to the last @ of the authority, so a password containing @ does not leak", () => {
    expect(redactUrlUserInfo("http://user:p@ss@host:1/x")).toBe("http://REDACTED@host:1/x");
  });

  it("leaves URLs without user information and @ in paths or queries unchanged", () => {
    for (const url of ["http://127.0.0.1:9080/", "http://host/path@v2", "http://host/?mail=a@b.c", "mailto:a@b.c"]) {
      expect(redactUrlUserInfo(url)).toBe(url);
    }
  });

  it("redacts every URL inside a longer text, such as an admin error message", () => {
    expect(redactUrlUserInfo("error when calling 'http://a:b@h1:1/': refused; retry http://c:d@h2")).toBe(
      "error when calling 'http://REDACTED@h1:1/': refused; retry http://REDACTED@h2",
    );
  });
});

describe("audit argument sanitizing", () => {
  it("redacts URLs at any depth and masks secret-named fields", () => {
    expect(
      sanitizeArguments({
        serviceUrl: "http://u:p@host/v1",
        nested: { urls: ["https://x:y@h/?q=1#f"], count: 2 },
        apiKey: "ddwf_secret",
        password: "hunter2",
        authToken: "t",
        force: true,
      }),
    ).toEqual({
      serviceUrl: "http://REDACTED@host/v1",
      nested: { urls: ["https://REDACTED@h/?q=1#f"], count: 2 },
      apiKey: "REDACTED",
      password: "REDACTED",
      authToken: "REDACTED",
      force: true,
    });
  });
});
