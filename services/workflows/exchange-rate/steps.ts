/** Fetching and checking one exchange rate; runs inside a journaled step. */
import { z } from "zod";
import type { Database } from "../../../shared/db/client.ts";
import { insertExchangeRate } from "../../../shared/db/repositories/exchange-rates.ts";
import { DomainTerminalError } from "../../../shared/errors.ts";

/** What the feed answers: a positive rate and, optionally, when it was observed. */
const feedAnswer = z.object({
  rate: z.union([z.number(), z.string()]).transform((value, context) => {
    const text = String(value).trim();
    const number = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(number) || number <= 0) {
      context.addIssue({ code: "custom", message: `rate ${JSON.stringify(value)} is not a positive decimal` });
      return z.NEVER;
    }
    return text;
  }),
  timestamp: z.iso.datetime({ offset: true }).optional(),
});

export function feedUrl(template: string, pair: string): string {
  const [base = "", quote = ""] = pair.split("-");
  return template.replaceAll("{base}", encodeURIComponent(base)).replaceAll("{quote}", encodeURIComponent(quote)).replaceAll("{pair}", encodeURIComponent(pair));
}

/**
 * Fetches, validates and stores one rate. A feed that cannot be reached or answers 5xx is retried
 * by the step; an answer that is malformed, non-positive, stale or from the future is refused
 * (terminal) and nothing is stored.
 */
export async function refreshExchangeRate(
  db: Database,
  parameters: { pair: string; feedUrlTemplate: string; maxAgeMs: number },
): Promise<{ rate: string; sourceTimestamp: string }> {
  const url = feedUrl(parameters.feedUrlTemplate, parameters.pair);
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (response.status >= 500) throw new Error(`feed answered ${response.status}`);
  if (!response.ok) throw new DomainTerminalError("EXCHANGE_RATE_FEED_REFUSED", `feed answered ${response.status} for ${parameters.pair}`);
  const parsed = feedAnswer.safeParse(await response.json().catch(() => null));
  if (!parsed.success) {
    throw new DomainTerminalError("EXCHANGE_RATE_INVALID", `feed answer for ${parameters.pair} refused: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  }
  const now = Date.now();
  const sourceTimestamp = parsed.data.timestamp ? new Date(parsed.data.timestamp) : new Date(now);
  if (now - sourceTimestamp.getTime() > parameters.maxAgeMs) {
    throw new DomainTerminalError("EXCHANGE_RATE_STALE", `feed rate for ${parameters.pair} is from ${sourceTimestamp.toISOString()}, older than ${parameters.maxAgeMs} ms`);
  }
  if (sourceTimestamp.getTime() - now > 60_000) {
    throw new DomainTerminalError("EXCHANGE_RATE_INVALID", `feed rate for ${parameters.pair} is dated in the future (${sourceTimestamp.toISOString()})`);
  }
  await insertExchangeRate(db, { pair: parameters.pair, rate: parsed.data.rate, sourceTimestamp, source: new URL(url).host });
  return { rate: parsed.data.rate, sourceTimestamp: sourceTimestamp.toISOString() };
}
