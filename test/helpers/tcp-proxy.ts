/**
 * A TCP proxy on loopback in front of a server (the database, Restate ingress), so a test can take
 * that server away from one process without stopping it for everyone: `setDown(true)` cuts every
 * open connection and refuses new ones, as a network partition or a restarting server does.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import { freePort } from "../../infra/local/free-port.ts";

export type TcpProxy = {
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  proxied(url: string): string;
  setDown(down: boolean): void;
  /** Connections accepted and forwarded so far. */
  connections(): number;
  /** Connections refused while down. */
  refused(): number;
  close(): Promise<void>;
};

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let down = false;
  let accepted = 0;
  let refused = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (down) {
      refused += 1;
      client.destroy();
      return;
    }
    accepted += 1;
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port,
    proxied: (url) => {
      const parsed = new URL(url);
      parsed.hostname = "127.0.0.1";
      parsed.port = String(port);
      return parsed.toString();
    },
    setDown: (value) => {
      down = value;
      if (down) for (const socket of open) socket.destroy();
    },
    connections: () => accepted,
    refused: () => refused,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Host and port of a URL, for `startTcpProxy`. */
export function targetOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
}
