/**
 * The OpenTelemetry MeterProvider of one process, read when Prometheus scrapes: the process's ops
 * server renders `/metrics` through `renderMetrics`, in the Prometheus text format of the
 * OpenTelemetry Prometheus exporter's serializer (dots become underscores, monotonic counters get
 * `_total`).
 *
 * The reader is the exporter's pull model with one difference: observable gauges are read with
 * delta temporality. A gauge is a current value either way, but with the exporter's cumulative
 * temporality the SDK repeats the last value of every series a callback ever observed; with delta
 * a scrape shows exactly what the callbacks observed now, so a gauge whose source failed gives no
 * sample instead of a stale one. Counters and histograms stay cumulative, as Prometheus expects.
 */
import { AggregationTemporality, AggregationType, InstrumentType, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { Meter } from "@opentelemetry/api";

export const METER_NAME = "dalp.ddwf";

export type Telemetry = {
  meter: Meter;
  /** Collects every instrument (observable gauges run their callbacks now) as Prometheus text. */
  renderMetrics(): Promise<string>;
  shutdown(): Promise<void>;
};

class ScrapeReader extends MetricReader {
  constructor() {
    super({
      aggregationSelector: () => ({ type: AggregationType.DEFAULT }),
      aggregationTemporalitySelector: (instrumentType) =>
        instrumentType === InstrumentType.OBSERVABLE_GAUGE ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
    });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export function createTelemetry(parameters: { serviceName: string }): Telemetry {
  const reader = new ScrapeReader();
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ "service.name": parameters.serviceName }),
    readers: [reader],
  });
  const serializer = new PrometheusSerializer();
  return {
    meter: provider.getMeter(METER_NAME),
    renderMetrics: async () => {
      const { resourceMetrics, errors } = await reader.collect();
      const text = serializer.serialize(resourceMetrics);
      return errors.length === 0 ? text : `${text}# collection errors: ${errors.length}\n`;
    },
    shutdown: () => provider.shutdown(),
  };
}
