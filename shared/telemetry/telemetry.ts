/**
 * The OpenTelemetry MeterProvider of one process, read by a Prometheus exporter that does not
 * start its own server: the process's ops server renders `/metrics` through `renderMetrics`.
 */
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { Meter } from "@opentelemetry/api";

export const METER_NAME = "dalp.ddwf";

export type Telemetry = {
  meter: Meter;
  /** Collects every instrument (observable gauges run their callbacks now) as Prometheus text. */
  renderMetrics(): Promise<string>;
  shutdown(): Promise<void>;
};

export function createTelemetry(parameters: { serviceName: string }): Telemetry {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ "service.name": parameters.serviceName }),
    readers: [exporter],
  });
  const serializer = new PrometheusSerializer();
  return {
    meter: provider.getMeter(METER_NAME),
    renderMetrics: async () => {
      const { resourceMetrics, errors } = await exporter.collect();
      const text = serializer.serialize(resourceMetrics);
      return errors.length === 0 ? text : `${text}# collection errors: ${errors.length}\n`;
    },
    shutdown: () => provider.shutdown(),
  };
}
