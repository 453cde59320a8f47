/** The worker's start-up instruments under the `dalp.ddwf` meter. */
import type { Meter } from "@opentelemetry/api";

export type RegistrationOutcome = "registered" | "updated" | "unchanged" | "failed" | "skipped";

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
      description: "Exchange-rate refresh schedulers this worker bootstrapped (one per configured pair)",
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
