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

/**
 * Spellings a URL parser reads as a URL with user information, whatever a simple pattern thinks:
 * special schemes take any mix of `/` and `\` (or none) after the colon, tabs and newlines are
 * dropped anywhere, and the user information runs to the last `@` before `/`, `\`, `?` or `#`.
 */
const CREDENTIAL_SPELLINGS = [
  "http://us'er:pa'ss-SECRET@host:1/p",
  'http://user:"pw-SECRET"@host/p',
  "http://user:pw<SECRET@host/p",
  "http://user:pw SECRET@host/p",
  "http://user:pw\tSECRET@host/p",
  "http://user:pw\nSECRET@host/p",
  "http:///user:pw-SECRET@host/p",
  "http:/user:pw-SECRET@host/p",
  "http:user:pw-SECRET@host/p",
  "http:\\\\user:pw-SECRET@host/p",
  "http:/\\user:pw-SECRET@host/p",
  "HTTPS://user:pw-SECRET@host/p",
  "ht\ttp://user:pw-SECRET@host/p",
  "  http://user:pw-SECRET@host",
  "wss://user:pw-SECRET@host?x#y",
  "postgres://ddwf:pw-SECRET@db:5432/ddwf",
];

describe("credential redaction by the rules of a URL parser", () => {
  it.each(CREDENTIAL_SPELLINGS.map((spelling) => [JSON.stringify(spelling), spelling]))("removes the password of %s", (_name, spelling) => {
    const redacted = redactUrlUserInfo(spelling);
    expect(redacted).not.toContain("SECRET");
    expect(redacted).toContain("REDACTED@");
  });

  it("leaves nothing a URL parser would still read as a password", () => {
    for (const spelling of CREDENTIAL_SPELLINGS) {
      const redacted = redactUrlUserInfo(spelling).trim();
      if (!URL.canParse(redacted)) continue;
      const parsed = new URL(redacted);
      expect(parsed.password).toBe("");
      expect(["", "REDACTED"]).toContain(parsed.username);
    }
  });

  it("redacts a credential URL inside a sentence, such as an operator's reason", () => {
    expect(redactUrlUserInfo("re-registering http:/ops:pw-SECRET@worker:9080 after the outage")).not.toContain("SECRET");
  });

  it("keeps the host, path, query and fragment of the odd spellings", () => {
    expect(redactUrlUserInfo("http:/\\user:pw@host:9/v1?q=1#f")).toBe("http:/\\REDACTED@host:9/v1?q=1#f");
    expect(redactUrlUserInfo("http://us er:p w@host/x")).toBe("http://REDACTED@host/x");
  });

  it("masks any value equal to the authenticating key, whatever its field is called", () => {
    const key = "ddwf_0123456789abcdefghijklmnop";
    expect(sanitizeArguments({ key, note: `use ${key} please`, [key]: 1 }, { secrets: [key] })).toEqual({
      key: "REDACTED",
      note: "use REDACTED please",
      REDACTED: 1,
    });
  });

  it("masks webhook secrets wherever they appear", () => {
    expect(redactUrlUserInfo("signed with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, retry")).toBe("signed with REDACTED, retry");
  });
});

describe("arguments stored for the database", () => {
  it("replaces NUL characters and lone surrogates, in values and in field names", () => {
    const stored = sanitizeArguments({ "a\u0000b": "x\u0000y", lone: "\ud800z", pair: "\ud83d\ude00" }) as Record<string, unknown>;
    expect(JSON.stringify(stored)).not.toMatch(/\\u0000|\\ud800/);
    expect(stored).toEqual({ "a\ufffdb": "x\ufffdy", lone: "\ufffdz", pair: "\ud83d\ude00" });
  });

  it("keeps a __proto__ field as data", () => {
    const stored = sanitizeArguments(JSON.parse('{"__proto__": {"polluted": true}, "a": 1}')) as Record<string, unknown>;
    expect(Object.keys(stored)).toEqual(["__proto__", "a"]);
    expect(JSON.stringify(stored)).toBe('{"__proto__":{"polluted":true},"a":1}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("does not overflow the stack on deeply nested input, and cuts very long strings", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => sanitizeArguments(deep)).not.toThrow();
    const long = sanitizeArguments({ value: "x".repeat(100_000) }) as { value: string };
    expect(long.value.length).toBeLessThan(5_000);
  });
});
