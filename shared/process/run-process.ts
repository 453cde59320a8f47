/**
 * The common life of a ddwf process: start, then stop cleanly on SIGINT or SIGTERM. A bad
 * configuration prints its one message (naming every bad variable) and exits with code 78
 * (EX_CONFIG); any other start-up failure exits with 1.
 */
export const EXIT_CONFIG_INVALID = 78;

export async function runProcess(
  name: string,
  start: () => Promise<{ stop(): Promise<void> }>,
  options: { isConfigError(error: unknown): boolean },
): Promise<void> {
  let running: { stop(): Promise<void> };
  try {
    running = await start();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${name}: ${options.isConfigError(error) ? message : `start-up failed: ${message}`}\n`);
    process.exit(options.isConfigError(error) ? EXIT_CONFIG_INVALID : 1);
  }
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${name}: ${signal} received, stopping\n`);
    const timer = setTimeout(() => process.exit(1), 15_000);
    timer.unref();
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}
