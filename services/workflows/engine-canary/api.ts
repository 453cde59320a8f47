/** The canary's type for clients: import this, never the implementation. */
import type { EngineCanary } from "./workflow.ts";

export type EngineCanaryApi = EngineCanary;
export const engineCanaryApi: Pick<EngineCanaryApi, "name"> = { name: "EngineCanary" };
export type { EngineCanaryInput, EngineCanaryResult, EngineCanaryStatus } from "./workflow.ts";
