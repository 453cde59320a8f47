/** Reading a Prometheus text exposition in tests (promtool validates the same text where it runs). */
export type Sample = { name: string; labels: Record<string, string>; value: number };

/** The `name{labels} value` lines; comments and blank lines are skipped, anything else unparsable throws. */
export function parseSamples(text: string): Sample[] {
  return text
    .split("\n")
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`unparsable sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/** Samples of `name` whose labels include every given label. */
export function findSamples(text: string, name: string, labels: Record<string, string> = {}): Sample[] {
  return parseSamples(text).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The sum of the samples `findSamples` returns (0 when there are none). */
export function sumSamples(text: string, name: string, labels: Record<string, string> = {}): number {
  return findSamples(text, name, labels).reduce((sum, s) => sum + s.value, 0);
}
