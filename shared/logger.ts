/**
 * Structured JSON logs, one object per line: time, level, service, message and context fields.
 * `createRestateLogTransport` plugs the same format into the Restate SDK, tagging every line with
 * the invocation id, handler and key, and dropping lines written while a handler replays its journal.
 */
import type { LoggerTransport, LogMetadata } from "@restatedev/restate-sdk";

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export type Logger = {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
};

export type LogSink = (line: string) => void;

export type CreateLoggerParameters = {
  service: string;
  level?: LogLevel;
  sink?: LogSink;
  fields?: LogFields;
};

export function createLogger(parameters: CreateLoggerParameters): Logger {
  const threshold = LEVEL_RANK[parameters.level ?? "info"];
  const sink = parameters.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = { service: parameters.service, ...parameters.fields };
  const write = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVEL_RANK[level] < threshold) return;
    sink(JSON.stringify({ time: new Date().toISOString(), level, ...base, msg: message, ...serializeFields(fields) }));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger({ ...parameters, sink, fields: { ...parameters.fields, ...fields } }),
  };
}

function serializeFields(fields: LogFields | undefined): LogFields | undefined {
  if (!fields) return undefined;
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
  }
  return out;
}

const RESTATE_LEVEL: Record<string, LogLevel> = { trace: "debug", debug: "debug", info: "info", warn: "warn", error: "error" };

/**
 * The SDK's logger transport. Lines logged through `ctx.console` while the handler replays its
 * journal are suppressed, so a step that already ran does not log twice after a crash.
 */
export function createRestateLogTransport(logger: Logger): LoggerTransport {
  return (meta: LogMetadata, message?: unknown, ...rest: unknown[]) => {
    if (meta.replaying) return;
    const level = RESTATE_LEVEL[meta.level] ?? "info";
    const context = meta.context;
    const fields: LogFields = {
      source: meta.source.toLowerCase(),
      ...(context && {
        invocationId: context.invocationId,
        restateService: context.serviceName,
        handler: context.handlerName,
        workflowKey: context.key,
        ...context.additionalContext,
      }),
    };
    const parts = [message, ...rest];
    const structured = parts.find((p): p is LogFields => typeof p === "object" && p !== null && !(p instanceof Error));
    const text = parts
      .filter((p) => p !== structured)
      .map((p) => (p instanceof Error ? p.message : typeof p === "string" ? p : JSON.stringify(p)))
      .join(" ");
    logger[level](text, { ...fields, ...structured });
  };
}
