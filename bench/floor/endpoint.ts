/**
 * The floor's own endpoint process (`node bench/floor/endpoint.ts <port>`), registered with the
 * benchmark's restate-server like the worker: same SDK, same HTTP/2 server, no ddwf code.
 */
import * as http2 from "node:http2";
import * as restate from "@restatedev/restate-sdk";
import { floorObject, floorWorkflow } from "./services.ts";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node bench/floor/endpoint.ts <port>");
  process.exit(2);
}
const server = http2.createServer(restate.createEndpointHandler({ services: [floorWorkflow, floorObject] }));
server.listen(port, "127.0.0.1", () => console.log(`bench floor endpoint on ${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
