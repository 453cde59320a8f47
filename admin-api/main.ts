/** Entry point of `npm run dapi`: load the configuration once, start, stop on SIGINT/SIGTERM. */
import { ConfigError, loadConfig } from "../shared/config.ts";
import { runProcess } from "../shared/process/run-process.ts";
import { startDapi } from "./dapi.ts";

await runProcess("ddwf-dapi", async () => startDapi(loadConfig(process.env)), {
  isConfigError: (error) => error instanceof ConfigError,
});
