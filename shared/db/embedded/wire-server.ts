/**
 * PGlite served over the PostgreSQL wire protocol, so every ddwf process (worker, DAPI, tests)
 * talks to the embedded database through the same postgres.js driver it uses for a real server.
 *
 * PGlite is one backend session. `@electric-sql/pglite-socket` multiplexes clients onto it one
 * protocol *message* at a time, which lets two clients' extended-protocol messages interleave
 * (client A's Parse, client B's Bind on the unnamed portal, A's Execute...). Under the worker's
 * concurrency that corrupts queries. This server multiplexes by *unit* instead: a client holds the
 * backend from its first message until a Sync or simple Query completes with no transaction open,
 * so extended-protocol batches and whole transactions are never interleaved with another client's.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { PGlite } from "@electric-sql/pglite";

const SSL_REQUEST_CODE = 80877103;
const GSS_REQUEST_CODE = 80877104;
const CANCEL_REQUEST_CODE = 80877102;
const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'
const TERMINATE = 0x58; // 'X'
const SYNC_MESSAGE = new Uint8Array([SYNC, 0, 0, 0, 4]);

export type WireServerStats = {
  connections: number;
  waiting: number;
  unitsProcessed: number;
  maxWaiting: number;
};

class ClientConnection {
  readonly inbox: Uint8Array[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  startupDone = false;
  closed = false;
  /** True from the first message of a unit until its Sync or Query has been answered. */
  midUnit = false;

  readonly socket: Socket;
  constructor(socket: Socket) {
    this.socket = socket;
  }

  /** Splits incoming bytes into protocol messages; answers SSL/GSS requests itself. */
  feed(chunk: Buffer): Uint8Array[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const messages: Uint8Array[] = [];
    for (;;) {
      if (!this.startupDone) {
        if (this.buffer.length < 8) break;
        const length = this.buffer.readInt32BE(0);
        if (this.buffer.length < length) break;
        const code = this.buffer.readInt32BE(4);
        const message = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        if (code === SSL_REQUEST_CODE || code === GSS_REQUEST_CODE) {
          this.socket.write("N");
          continue;
        }
        if (code === CANCEL_REQUEST_CODE) {
          this.socket.end();
          break;
        }
        this.startupDone = true;
        messages.push(new Uint8Array(message));
        continue;
      }
      if (this.buffer.length < 5) break;
      const length = 1 + this.buffer.readInt32BE(1);
      if (this.buffer.length < length) break;
      messages.push(new Uint8Array(this.buffer.subarray(0, length)));
      this.buffer = this.buffer.subarray(length);
    }
    return messages;
  }
}

export class PgliteWireServer {
  private server: Server | null = null;
  private readonly connections = new Set<ClientConnection>();
  private owner: ClientConnection | null = null;
  private readonly waiting: ClientConnection[] = [];
  private pumping = false;
  private readonly counters = { unitsProcessed: 0, maxWaiting: 0 };

  private readonly db: PGlite;
  constructor(db: PGlite) {
    this.db = db;
  }

  async listen(port: number, host: string): Promise<number> {
    await this.db.waitReady;
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("embedded postgres: no TCP address");
    return address.port;
  }

  stats(): WireServerStats {
    return {
      connections: this.connections.size,
      waiting: this.waiting.length,
      unitsProcessed: this.counters.unitsProcessed,
      maxWaiting: this.counters.maxWaiting,
    };
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.socket.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const connection = new ClientConnection(socket);
    this.connections.add(connection);
    socket.on("data", (chunk: Buffer) => {
      for (const message of connection.feed(chunk)) {
        if (message[0] === TERMINATE && connection.startupDone) {
          socket.end();
          continue;
        }
        connection.inbox.push(message);
      }
      this.schedule(connection);
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => void this.disconnect(connection));
  }

  private schedule(connection: ClientConnection): void {
    if (connection.inbox.length === 0 || connection.closed) return;
    if (this.owner !== connection && !this.waiting.includes(connection)) {
      this.waiting.push(connection);
      this.counters.maxWaiting = Math.max(this.counters.maxWaiting, this.waiting.length);
    }
    void this.pump();
  }

  /** Runs messages of the owning client; hands the backend over only at a unit boundary. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.owner === null) {
          const next = this.waiting.shift();
          if (next === undefined) return;
          this.owner = next;
        }
        const owner = this.owner;
        const message = owner.inbox.shift();
        if (message === undefined) return; // mid-unit: wait for the rest of this client's unit
        owner.midUnit = true;
        await this.execute(owner, message);
        const type = message[0];
        const unitEnd = type === SYNC || type === QUERY || isStartup(message);
        if (unitEnd) {
          owner.midUnit = false;
          this.counters.unitsProcessed += 1;
          if (!this.db.isInTransaction()) {
            this.owner = null;
            if (owner.inbox.length > 0) this.waiting.push(owner);
          }
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private async execute(connection: ClientConnection, message: Uint8Array): Promise<void> {
    const chunks: Uint8Array[] = [];
    try {
      await this.db.runExclusive(() =>
        this.db.execProtocolRawStream(message, { onRawData: (data) => chunks.push(data.slice()) }),
      );
    } catch (error) {
      // PGlite reports protocol-level failures by throwing; the client gets an ErrorResponse frame.
      chunks.push(errorResponse(error instanceof Error ? error.message : String(error)));
    }
    if (!connection.closed && chunks.length > 0) connection.socket.write(Buffer.concat(chunks));
  }

  private async disconnect(connection: ClientConnection): Promise<void> {
    connection.closed = true;
    connection.inbox.length = 0;
    this.connections.delete(connection);
    const index = this.waiting.indexOf(connection);
    if (index >= 0) this.waiting.splice(index, 1);
    if (this.owner === connection) {
      // Leave the shared backend as a fresh session would find it: end a half-sent unit, then roll
      // back an open transaction. (`exec` takes PGlite's own lock, so it must not run inside
      // runExclusive.)
      if (connection.midUnit) {
        await this.db.runExclusive(() => this.db.execProtocolRawStream(SYNC_MESSAGE, { onRawData: () => {} }));
      }
      if (this.db.isInTransaction()) await this.db.exec("ROLLBACK");
      this.owner = null;
      void this.pump();
    }
  }
}

function isStartup(message: Uint8Array): boolean {
  return message.length >= 8 && new DataView(message.buffer, message.byteOffset).getInt32(4) === 196608;
}

/** A minimal ErrorResponse ('E') with severity ERROR, SQLSTATE XX000 and the message. */
function errorResponse(text: string): Uint8Array {
  const fields = Buffer.concat([
    Buffer.from("SERROR\0"),
    Buffer.from("CXX000\0"),
    Buffer.from(`M${text}\0`),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header[0] = 0x45;
  header.writeInt32BE(fields.length + 4, 1);
  return new Uint8Array(Buffer.concat([header, fields]));
}
