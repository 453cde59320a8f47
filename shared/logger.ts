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

/** The header that carries a submission's correlation id into every invocation it causes. */
export const CORRELATION_HEADER = "x-correlation-id";

/**
 * The SDK's logger transport. Lines logged through `ctx.console` while the handler replays its
 * journal are suppressed, so a step that already ran does not log twice after a crash; the live
 * lines of an attempt that began with a replay carry `afterReplay: true`. Every line carries the
 * invocation id, service, handler and key, the submission's correlation id (header
 * x-correlation-id) and the W3C trace id Restate propagates (traceparent), when present.
 */
export function createRestateLogTransport(logger: Logger): LoggerTransport {
  const replayed = new Set<string>();
  return (meta: LogMetadata, message?: unknown, ...rest: unknown[]) => {
    const context = meta.context;
    if (meta.replaying) {
      if (context) {
        replayed.add(context.invocationId);
        if (replayed.size > 10_000) replayed.delete(replayed.values().next().value!);
      }
      return;
    }
    const level = RESTATE_LEVEL[meta.level] ?? "info";
    const correlationId = context?.request?.headers.get(CORRELATION_HEADER);
    const traceparent = context?.request?.attemptHeaders.get("traceparent");
    const traceId = typeof traceparent === "string" ? traceparent.split("-")[1] : undefined;
    const fields: LogFields = {
      source: meta.source.toLowerCase(),
      ...(context && {
        invocationId: context.invocationId,
        restateService: context.serviceName,
        handler: context.handlerName,
        workflowKey: context.key,
        ...context.additionalContext,
      }),
      ...(correlationId ? { correlationId } : {}),
      ...(traceId ? { traceId } : {}),
      ...(context && replayed.has(context.invocationId) ? { afterReplay: true } : {}),
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
