/** Serves a Hono app on a port with @hono/node-server and resolves once it listens. */
import type { Duplex } from "node:stream";
import { serve, type ServerType } from "@hono/node-server";
import type { Hono } from "hono";

export type RunningHttpServer = { port: number; close(): Promise<void> };

export type ListenParameters = {
  port: number;
  host: string;
  /**
   * Answers a request the HTTP parser refused before any route saw it (oversized headers,
   * malformed HTTP); replaces Node's plain-text default. It must end or destroy the socket.
   */
  onClientError?: (error: Error & { code?: string }, socket: Duplex) => void;
};

export function listen(app: Hono, parameters: ListenParameters): Promise<RunningHttpServer> {
  return new Promise((resolve, reject) => {
    let server: ServerType | undefined;
    server = serve({ fetch: app.fetch, port: parameters.port, hostname: parameters.host }, (info) => {
      const running = server;
      if (!running) return;
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            if ("closeAllConnections" in running) running.closeAllConnections();
            running.close(() => done());
          }),
      });
    });
    server.once("error", reject);
    if (parameters.onClientError) server.on("clientError", parameters.onClientError);
  });
}
