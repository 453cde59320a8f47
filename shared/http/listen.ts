/** Serves a Hono app on a port with @hono/node-server and resolves once it listens. */
import { serve, type ServerType } from "@hono/node-server";
import type { Hono } from "hono";

export type RunningHttpServer = { port: number; close(): Promise<void> };

export function listen(app: Hono, parameters: { port: number; host: string }): Promise<RunningHttpServer> {
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
  });
}
