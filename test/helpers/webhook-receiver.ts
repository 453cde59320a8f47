/**
 * A webhook receiver as a platform customer would write it: every request is verified with the
 * `standardwebhooks` package (the reference implementation of the convention), and its behaviour
 * can be scripted: answer a status for the next N requests, or be down (connections dropped).
 */
import { createServer, type Server } from "node:http";
import { Webhook } from "standardwebhooks";
import { freePort } from "../../infra/local/free-port.ts";

export type ReceivedWebhook = { id: string; type: string; body: Record<string, unknown>; verified: boolean; answeredWith: number | null };

export type WebhookReceiver = {
  url: string;
  received: ReceivedWebhook[];
  /** Accepted (2xx) and verified deliveries, one per webhook id. */
  accepted(): ReceivedWebhook[];
  /** Answer `status` to the next `count` requests (then 204 again). */
  failNext(count: number, status: number, headers?: Record<string, string>): void;
  setDown(down: boolean): void;
  close(): Promise<void>;
};

export async function startWebhookReceiver(secrets: string[]): Promise<WebhookReceiver> {
  const verifiers = secrets.map((secret) => new Webhook(secret));
  const received: ReceivedWebhook[] = [];
  let failures: { remaining: number; status: number; headers: Record<string, string> } = { remaining: 0, status: 500, headers: {} };
  let down = false;

  const server: Server = createServer(async (request, response) => {
    if (down) {
      request.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const payload = Buffer.concat(chunks).toString("utf8");
    const headers = {
      "webhook-id": String(request.headers["webhook-id"] ?? ""),
      "webhook-timestamp": String(request.headers["webhook-timestamp"] ?? ""),
      "webhook-signature": String(request.headers["webhook-signature"] ?? ""),
    };
    const verified = verifiers.some((verifier) => {
      try {
        verifier.verify(payload, headers);
        return true;
      } catch {
        return false;
      }
    });
    const body = JSON.parse(payload) as Record<string, unknown>;
    let status = verified ? 204 : 401;
    let extra: Record<string, string> = {};
    if (verified && failures.remaining > 0) {
      failures.remaining -= 1;
      status = failures.status;
      extra = failures.headers;
    }
    received.push({ id: headers["webhook-id"], type: String(body.type), body, verified, answeredWith: status });
    response.writeHead(status, extra);
    response.end();
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    accepted: () => received.filter((r) => r.verified && r.answeredWith !== null && r.answeredWith < 300),
    failNext: (count, status, headers = {}) => {
      failures = { remaining: count, status, headers };
    },
    setDown: (value) => {
      down = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
