/** `npm run contracts:artifacts`: writes the asset-issuance artifacts the worker deploys from. */
import { writeFile } from "node:fs/promises";
import { ISSUANCE_ARTIFACTS_FILE, renderIssuanceArtifacts } from "./issuance-artifacts.ts";

await writeFile(ISSUANCE_ARTIFACTS_FILE, await renderIssuanceArtifacts());
console.log(`wrote ${ISSUANCE_ARTIFACTS_FILE}`);
