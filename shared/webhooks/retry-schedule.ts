/**
 * When a webhook delivery is tried again. The default follows the schedule common to Standard
 * Webhooks senders: at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (about 28 h in
 * all). Each pause is spread by ±10% jitter so a receiver coming back is not hit by every sender at
 * the same instant; a `Retry-After` from the receiver replaces the pause when it is longer.
 */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE = "5s,5m,30m,2h,5h,10h,10h";

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Parses `5s,5m,2h,250ms` into milliseconds; throws naming the bad entry. */
export function parseRetrySchedule(value: string): number[] {
  return value.split(",").map((entry) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(entry);
    if (!match) throw new Error(`"${entry}" is not a duration like 500ms, 5s, 5m or 2h`);
    return Math.round(Number(match[1]) * UNITS[match[2]!]!);
  });
}

/**
 * The pause before the next attempt, with jitter from `random` in [0, 1). A receiver's longer
 * `Retry-After` is honoured up to `retryAfterMaxMs`: a receiver cannot park a delivery for years.
 */
export function retryDelay(scheduleMs: readonly number[], failedAttempt: number, random: number, retryAfterMs?: number, retryAfterMaxMs = Number.POSITIVE_INFINITY): number | null {
  const base = scheduleMs[failedAttempt - 1];
  if (base === undefined) return null;
  const jittered = Math.round(base * (0.9 + 0.2 * random));
  return retryAfterMs !== undefined && retryAfterMs > jittered ? Math.max(jittered, Math.min(retryAfterMs, retryAfterMaxMs)) : jittered;
}

/** `Retry-After` as delta-seconds or an HTTP date, in milliseconds from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1_000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** 2xx delivered; 408 and 429 and 5xx (and no answer) are tried again; any other 4xx is final. */
export function classifyWebhookStatus(status: number | null): "delivered" | "retry" | "rejected" {
  if (status === null) return "retry";
  if (status >= 200 && status < 300) return "delivered";
  if (status === 408 || status === 429 || status >= 500) return "retry";
  return status >= 400 ? "rejected" : "retry";
}
