/** The worker's start-up instruments under the `dalp.ddwf` meter. */
import type { Meter } from "@opentelemetry/api";

export const REGISTRATION_OUTCOMES = ["registered", "updated", "unchanged", "failed", "skipped"] as const;
export type RegistrationOutcome = (typeof REGISTRATION_OUTCOMES)[number];

export type WorkerMetrics = {
  recordRegistration(outcome: RegistrationOutcome): void;
  setServicesBound(count: number): void;
  recordStartupDuration(milliseconds: number): void;
  setExchangeRateSchedulers(count: number): void;
};

export function createWorkerMetrics(meter: Meter): WorkerMetrics {
  const registrations = meter.createCounter("dalp.ddwf.endpoint.registrations", {
    description: "Attempts to register the worker endpoint with the Restate admin API, by outcome",
  });
  // Every outcome starts at 0, so `increase()` sees the first failure (see engine-metrics.ts).
  for (const outcome of REGISTRATION_OUTCOMES) registrations.add(0, { outcome });
  let servicesBound = 0;
  meter
    .createObservableGauge("dalp.ddwf.services.bound", {
      description: "Workflow and virtual-object services bound to the worker endpoint",
    })
    .addCallback((result) => result.observe(servicesBound));
  let startupMs: number | undefined;
  meter
    .createObservableGauge("dalp.ddwf.startup.duration_ms", {
      description: "Time from telemetry initialization to the worker being fully started",
      unit: "ms",
    })
    .addCallback((result) => {
      if (startupMs !== undefined) result.observe(startupMs);
    });
  let exchangeRateSchedulers = 0;
  meter
    .createObservableGauge("dalp.ddwf.exchange_rate.schedulers.active", {
      description: "Exchange-rate refresh schedulers this worker bootstrapped at start (one per configured pair)",
    })
    .addCallback((result) => result.observe(exchangeRateSchedulers));
  return {
    setExchangeRateSchedulers: (count) => {
      exchangeRateSchedulers = count;
    },
    recordRegistration: (outcome) => registrations.add(1, { outcome }),
    setServicesBound: (count) => {
      servicesBound = count;
    },
    recordStartupDuration: (milliseconds) => {
      startupMs = milliseconds;
    },
  };
}
