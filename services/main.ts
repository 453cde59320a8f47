/** Entry point of `npm run worker`: load the configuration once, start, stop on SIGINT/SIGTERM. */
import { ConfigError, loadConfig } from "../shared/config.ts";
import { runProcess } from "../shared/process/run-process.ts";
import { startWorker } from "./worker.ts";

await runProcess("ddwf-worker", async () => {
  const config = loadConfig(process.env);
  return startWorker(config);
}, { isConfigError: (error) => error instanceof ConfigError });
