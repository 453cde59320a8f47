/**
 * An HTTP proxy in front of the test chain's RPC, so a test can make the RPC fail the way real ones
 * do: `down` answers nothing (connections are destroyed, as with a dead node), `flaky` answers a
 * share of requests with 429 Too Many Requests. Independently, `holdSends` keeps every
 * `eth_sendRawTransaction` waiting until `releaseSends` (a held request whose caller went away, as
 * with a killed worker, is never forwarded) or `dropHeldSends` (held requests are cut off unsent,
 * as with a node that never got them). `lagReceipts` answers the next receipt and transaction
 * lookups with `null`, as a load-balanced RPC whose node is behind does. Only loopback traffic.
 */
import { createServer, type Server } from "node:http";
import { recoverTransactionAddress, type Hex, type TransactionSerialized } from "viem";
import { freePort } from "../../infra/local/free-port.ts";

export type RpcProxyMode = "up" | "down" | { flaky: number };

export type RpcProxy = {
  url: string;
  setMode(mode: RpcProxyMode): void;
  stats(): { forwarded: number; refused: number };
  /** Holds every raw send, or only those signed by `from`. */
  holdSends(options?: { from?: string }): void;
  releaseSends(): void;
  /**
   * Forwards raw sends but holds back the node's answer (the bytes reach the chain, the caller
   * hears nothing), until `releaseSends`; a held answer whose caller went away is dropped.
   */
  holdSendAnswers(): void;
  /** Cuts every held send off without forwarding it, and stops holding. */
  dropHeldSends(): void;
  /** How many raw sends have been held so far. */
  held(): number;
  /** Answers the next `count` receipt and transaction-by-hash lookups with `null`. */
  lagReceipts(count: number): void;
  /** Lookups answered `null` by `lagReceipts` so far. */
  lagged(): number;
  close(): Promise<void>;
};

export async function startRpcProxy(targetUrl: string): Promise<RpcProxy> {
  let mode: RpcProxyMode = "up";
  const counters = { forwarded: 0, refused: 0, seen: 0 };
  const random = seededRandom(0x5eed);
  let holding = false;
  let holdingAnswers = false;
  let holdingFrom: string | null = null;
  let heldTotal = 0;
  const waiting = new Set<(forward: boolean) => void>();
  let lagRemaining = 0;
  let laggedTotal = 0;
  const server: Server = createServer(async (request, response) => {
    counters.seen += 1;
    if (mode === "down") {
      counters.refused += 1;
      request.socket.destroy();
      return;
    }
    // A seeded random share: reproducible from run to run, but without the lock-step pattern of
    // "every second call", which a retry loop with two calls per attempt would never escape.
    if (typeof mode === "object" && random() < mode.flaky) {
      counters.refused += 1;
      response.writeHead(429, { "content-type": "application/json", "retry-after": "0" });
      response.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32005, message: "rate limited" } }));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const text = body.toString("utf8");
    if (lagRemaining > 0 && /"eth_getTransaction(Receipt|ByHash)"/.test(text)) {
      lagRemaining -= 1;
      laggedTotal += 1;
      const { id } = JSON.parse(text) as { id: unknown };
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ jsonrpc: "2.0", id, result: null }));
      return;
    }
    if (holding && text.includes('"eth_sendRawTransaction"') && (holdingFrom === null || (await senderOf(text)) === holdingFrom)) {
      heldTotal += 1;
      const forward = await new Promise<boolean>((resolve) => {
        waiting.add(resolve);
        response.once("close", () => resolve(false));
      });
      if (!forward || request.socket.destroyed) {
        request.socket.destroy();
        return;
      }
    }
    try {
      const upstream = await fetch(targetUrl, { method: "POST", headers: { "content-type": "application/json" }, body });
      counters.forwarded += 1;
      if (holdingAnswers && text.includes('"eth_sendRawTransaction"')) {
        heldTotal += 1;
        const forward = await new Promise<boolean>((resolve) => {
          waiting.add(resolve);
          response.once("close", () => resolve(false));
        });
        if (!forward || request.socket.destroyed) {
          request.socket.destroy();
          return;
        }
      }
      response.writeHead(upstream.status, { "content-type": "application/json" });
      response.end(Buffer.from(await upstream.arrayBuffer()));
    } catch {
      request.socket.destroy();
    }
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    setMode: (next) => {
      mode = next;
    },
    stats: () => ({ forwarded: counters.forwarded, refused: counters.refused }),
    holdSends: (options) => {
      holding = true;
      holdingFrom = options?.from?.toLowerCase() ?? null;
    },
    holdSendAnswers: () => {
      holdingAnswers = true;
    },
    releaseSends: () => {
      holding = false;
      holdingAnswers = false;
      for (const resolve of waiting) resolve(true);
      waiting.clear();
    },
    dropHeldSends: () => {
      holding = false;
      holdingAnswers = false;
      for (const resolve of waiting) resolve(false);
      waiting.clear();
    },
    held: () => heldTotal,
    lagReceipts: (count) => {
      lagRemaining = count;
    },
    lagged: () => laggedTotal,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The signer of the raw transaction an `eth_sendRawTransaction` request carries. */
async function senderOf(body: string): Promise<string | null> {
  try {
    const { params } = JSON.parse(body) as { params: [Hex] };
    return (await recoverTransactionAddress({ serializedTransaction: params[0] as TransactionSerialized })).toLowerCase();
  } catch {
    return null;
  }
}

/** mulberry32: a small, fast, seeded generator. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
