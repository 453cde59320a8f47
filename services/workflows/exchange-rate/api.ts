/** How callers name ExchangeRateScheduler (one refresh loop per currency pair): its definition, not its code. */
import type { ExchangeRateScheduler } from "./object.ts";

export const exchangeRateScheduler: ExchangeRateScheduler = { name: "ExchangeRateScheduler" } as ExchangeRateScheduler;
