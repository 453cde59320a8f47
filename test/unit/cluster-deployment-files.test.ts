/**
 * The cluster's production files, checked offline: every Kubernetes manifest against the
 * Kubernetes schemas (kubernetes-models), every variable they or docker-compose.cluster.yml give
 * the worker and the DAPI against shared/config.ts, the copies of the cluster settings (the
 * compose balancer, the pods' restate.toml) against the ones the local cluster and its drills use,
 * and the request-identity wiring (private key to the nodes only, public key to the worker).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { COMPOSE_HAPROXY_PLAN } from "../../infra/cluster/compose-haproxy-plan.ts";
import { renderHaproxyConfig } from "../../infra/cluster/haproxy.ts";
import { configVariables } from "../../shared/config.ts";
import { PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, RESTATE_SIGNING_KEY_ENV } from "../../shared/restate/request-identity.ts";

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec?: Record<string, unknown>; data?: Record<string, string>; stringData?: Record<string, string> };
type Container = {
  name: string;
  image: string;
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  volumeMounts?: { name: string; mountPath: string }[];
  readinessProbe?: { httpGet?: { path: string } };
};
type Volume = { name: string; secret?: { secretName: string }; configMap?: { name: string } };
type PodTemplate = { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: { containers: Container[]; volumes?: Volume[] } };
type Kustomization = {
  resources?: string[];
  images?: { name: string }[];
  replicas?: { name: string; count: number }[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  patches?: { path: string; target: { kind: string; name: string } }[];
};

type Generator = { name: string; behavior?: string; literals?: string[]; files?: string[] };

const known = new Set<string>(configVariables);
const BASE = "infra/k8s/base";
const OVERLAY = "infra/k8s/overlays/example";

const yamlDocuments = (file: string) => parseAllDocuments(readFileSync(file, "utf8")).map((doc) => doc.toJS() as Manifest);
const kustomization = (dir: string) => parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as Kustomization;
const baseManifests = (kustomization(BASE).resources ?? []).flatMap((file) => yamlDocuments(join(BASE, file)));
const byKind = (kind: string, name: string) => baseManifests.find((m) => m.kind === kind && m.metadata.name === name);
const podTemplate = (manifest: Manifest | undefined) => (manifest?.spec as { template: PodTemplate } | undefined)?.template;
const DDWF_DEPLOYMENTS = ["ddwf-worker", "ddwf-dapi"];
/** The ConfigMaps and Secrets a Deployment's containers take whole as variables (envFrom). */
const envSources = (deployment: string) =>
  (podTemplate(byKind("Deployment", deployment))?.spec.containers ?? []).flatMap((container) =>
    (container.envFrom ?? []).flatMap((source) => (source.configMapRef ? [byKind("ConfigMap", source.configMapRef.name)] : source.secretRef ? [byKind("Secret", source.secretRef.name)] : [])),
  );
const keysOf = (manifest: Manifest | undefined) => Object.keys(manifest?.data ?? manifest?.stringData ?? {});
/** The keys a kustomize generator makes: `KEY=value` literals, `KEY=path` or `path` (key = file name) files. */
const generatorKeys = (generator: Generator) => [
  ...(generator.literals ?? []).map((literal) => literal.split("=")[0]!),
  ...(generator.files ?? []).map((file) => (file.includes("=") ? file.split("=")[0]! : basename(file))),
];
const generatorFiles = (generator: Generator | undefined) => (generator?.files ?? []).map((file) => file.split("=").at(-1)!);
const IDENTITY_SECRET = "restate-request-identity";

/** Validates one object with the kubernetes-models class of its apiVersion and kind; returns the errors. */
async function schemaErrors(manifest: Manifest): Promise<string | null> {
  const [group, version] = manifest.apiVersion.includes("/") ? manifest.apiVersion.split("/") : [undefined, manifest.apiVersion];
  const modulePath = `kubernetes-models/${group ? `${group}/` : ""}${version}/${manifest.kind}`;
  const module = (await import(modulePath)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = module[manifest.kind];
  if (!Model) return `no model for ${manifest.apiVersion} ${manifest.kind}`;
  try {
    new Model(manifest).validate();
    return null;
  } catch (error) {
    return `${manifest.kind}/${manifest.metadata.name}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** A strategic-merge-like patch: objects merge key by key, lists of named items merge by name. */
function mergePatch(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch)) {
    const nameOf = (item: unknown) => (item as { name?: string; metadata?: { name?: string } }).name ?? (item as { metadata?: { name?: string } }).metadata?.name;
    const merged = [...base];
    for (const item of patch) {
      const at = merged.findIndex((existing) => nameOf(existing) !== undefined && nameOf(existing) === nameOf(item));
      if (at >= 0) merged[at] = mergePatch(merged[at], item);
      else merged.push(item);
    }
    return merged;
  }
  if (base && patch && typeof base === "object" && typeof patch === "object" && !Array.isArray(base)) {
    const merged: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [key, value] of Object.entries(patch)) merged[key] = key in merged ? mergePatch(merged[key], value) : value;
    return merged;
  }
  return patch;
}

/** `key = value` lines of a TOML file, per section, comments dropped. */
function tomlSettings(file: string): Map<string, string> {
  const settings = new Map<string, string>();
  let section = "";
  for (const raw of readFileSync(file, "utf8").split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) section = header[1]!;
    const pair = /^([A-Za-z0-9_.-]+)\s*=\s*(.+)$/.exec(line);
    if (pair && !line.startsWith("#")) settings.set(`${section}.${pair[1]}`, pair[2]!.trim());
  }
  return settings;
}

describe("Kubernetes manifests (infra/k8s)", () => {
  it("lists every manifest of the base in its kustomization", () => {
    const listed = new Set(kustomization(BASE).resources);
    const files = readdirSync(BASE).filter((file) => file.endsWith(".yaml") && file !== "kustomization.yaml");
    expect(files.filter((file) => !listed.has(file))).toEqual([]);
    expect([...listed].filter((file) => !existsSync(join(BASE, file)))).toEqual([]);
  });

  it("validates every base manifest against the Kubernetes schemas", async () => {
    expect(baseManifests.length).toBeGreaterThanOrEqual(10);
    const errors = (await Promise.all(baseManifests.map(schemaErrors))).filter((error) => error !== null);
    expect(errors).toEqual([]);
  });

  it("runs Restate as a three-replica StatefulSet with persistent volumes, a headless Service and a disruption budget of one", () => {
    const restate = byKind("StatefulSet", "restate");
    const spec = restate?.spec as { replicas: number; serviceName: string; volumeClaimTemplates: unknown[]; template: PodTemplate };
    expect(spec.replicas).toBe(3);
    expect(spec.volumeClaimTemplates.length).toBe(1);
    expect((byKind("Service", spec.serviceName)?.spec as { clusterIP?: string }).clusterIP).toBe("None");
    expect((byKind("PodDisruptionBudget", "restate")?.spec as { maxUnavailable: number }).maxUnavailable).toBe(1);
    const nodeUrls = (byKind("ConfigMap", "ddwf-config")?.data?.RESTATE_NODE_URLS ?? "").split(",");
    expect(nodeUrls).toEqual([0, 1, 2].map((i) => `http://restate-${i}.${spec.serviceName}:5122`));
  });

  it("gives the worker readiness on /health/ready, a rolling update that never drops below the replica count, and a disruption budget", () => {
    const worker = byKind("Deployment", "ddwf-worker");
    const spec = worker?.spec as { strategy: { rollingUpdate: { maxUnavailable: number } }; template: PodTemplate & { spec: { terminationGracePeriodSeconds: number } } };
    expect(spec.template.spec.containers[0]?.readinessProbe?.httpGet?.path).toBe("/health/ready");
    expect(spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    expect(byKind("PodDisruptionBudget", "ddwf-worker")).toBeDefined();
  });

  it("selects existing pods with every Service and disruption budget", () => {
    const podLabels = baseManifests.map((m) => podTemplate(m)?.metadata.labels).filter((labels) => labels !== undefined);
    const matches = (selector: Record<string, string>) => podLabels.some((labels) => Object.entries(selector).every(([key, value]) => labels[key] === value));
    for (const manifest of baseManifests.filter((m) => m.kind === "Service" || m.kind === "PodDisruptionBudget")) {
      const spec = manifest.spec as { selector: Record<string, string> & { matchLabels?: Record<string, string> } };
      expect(matches(spec.selector.matchLabels ?? spec.selector), `${manifest.kind}/${manifest.metadata.name}`).toBe(true);
    }
  });

  it("annotates every pod for Prometheus scraping on the port that serves /metrics", () => {
    for (const manifest of baseManifests.filter((m) => podTemplate(m) !== undefined)) {
      const annotations = podTemplate(manifest)?.metadata.annotations ?? {};
      expect(annotations, manifest.metadata.name).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/path": "/metrics" });
      expect(Number(annotations["prometheus.io/port"])).toBeGreaterThan(0);
    }
  });

  it("sets only variables the config schema knows on the worker and the DAPI", () => {
    const problems: string[] = [];
    for (const name of DDWF_DEPLOYMENTS) {
      for (const container of podTemplate(byKind("Deployment", name))?.spec.containers ?? []) {
        const names = [...(container.env ?? []).map((variable) => variable.name), ...envSources(name).flatMap(keysOf)];
        expect(names.length).toBeGreaterThan(3);
        problems.push(...names.filter((variable) => !known.has(variable)).map((variable) => `${name}: ${variable}`));
      }
    }
    expect(problems).toEqual([]);
  });

  it("mounts the request-identity Secret into every Restate node and points restate-server at the key in it", () => {
    const template = podTemplate(byKind("StatefulSet", "restate"))!;
    const container = template.spec.containers.find((c) => c.name === "restate")!;
    const volume = template.spec.volumes?.find((v) => v.secret?.secretName === IDENTITY_SECRET);
    const mount = container.volumeMounts?.find((m) => m.name === volume?.name);

    expect(keysOf(byKind("Secret", IDENTITY_SECRET))).toEqual([PRIVATE_KEY_FILE]);
    expect(mount, "a volume mount of the Secret").toBeDefined();
    expect(container.env?.find((variable) => variable.name === RESTATE_SIGNING_KEY_ENV)?.value).toBe(`${mount?.mountPath}/${PRIVATE_KEY_FILE}`);
  });

  it("gives the worker the public key in RESTATE_IDENTITY_KEYS, and the private key to no ddwf pod", () => {
    expect(envSources("ddwf-worker").flatMap(keysOf)).toContain("RESTATE_IDENTITY_KEYS");
    for (const name of DDWF_DEPLOYMENTS) {
      const template = podTemplate(byKind("Deployment", name));
      expect(template?.spec.volumes?.filter((volume) => volume.secret?.secretName === IDENTITY_SECRET) ?? [], name).toEqual([]);
      expect(envSources(name).map((source) => source?.metadata.name), name).not.toContain(IDENTITY_SECRET);
    }
  });

  it("keeps the cluster-defining keys of the pods' restate.toml equal to the local cluster's", () => {
    const pods = tomlSettings(join(BASE, "restate.toml"));
    const local = tomlSettings("infra/cluster/restate-cluster.toml");
    const defining = [".cluster-name", ".default-replication", ".default-num-partitions", "bifrost.default-provider", ".disable-telemetry"];
    const retryPolicy = [...local.keys()].filter((key) => key.startsWith("default-retry-policy."));
    for (const key of [...defining, ...retryPolicy]) expect(pods.get(key), key).toBe(local.get(key));
  });
});

describe("the example overlay (infra/k8s/overlays/example)", () => {
  const overlay = kustomization(OVERLAY);

  it("refers only to files that exist and to objects and images of the base", () => {
    for (const resource of overlay.resources ?? []) expect(existsSync(join(OVERLAY, resource)), resource).toBe(true);
    const images = baseManifests.flatMap((m) => podTemplate(m)?.spec.containers.map((c) => c.image.split(":")[0]) ?? []);
    for (const image of overlay.images ?? []) expect(images, image.name).toContain(image.name);
    for (const replica of overlay.replicas ?? []) expect(byKind("Deployment", replica.name) ?? byKind("StatefulSet", replica.name), replica.name).toBeDefined();
    for (const generator of overlay.configMapGenerator ?? []) expect(byKind("ConfigMap", generator.name), generator.name).toBeDefined();
    for (const generator of overlay.secretGenerator ?? []) expect(byKind("Secret", generator.name), generator.name).toBeDefined();
  });

  it("sets only known variables through the generators of what the worker and the DAPI take as variables", () => {
    const asVariables = new Set(DDWF_DEPLOYMENTS.flatMap((name) => envSources(name).map((source) => source?.metadata.name)));
    const keys = [...(overlay.configMapGenerator ?? []), ...(overlay.secretGenerator ?? [])].filter((g) => asVariables.has(g.name)).flatMap(generatorKeys);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((key) => !known.has(key))).toEqual([]);
  });

  it("replaces the request-identity pair with the files `npm run identity:keys` writes, in a folder git ignores", () => {
    const secret = overlay.secretGenerator?.find((g) => g.name === IDENTITY_SECRET);
    const publicKey = overlay.configMapGenerator?.find((g) => g.name === "restate-identity-public");
    const [privateFile] = generatorFiles(secret);
    const [publicFile] = generatorFiles(publicKey);

    expect([secret?.behavior, publicKey?.behavior]).toEqual(["replace", "replace"]);
    expect(generatorKeys(secret!)).toEqual(keysOf(byKind("Secret", IDENTITY_SECRET)));
    expect(generatorKeys(publicKey!)).toEqual(["RESTATE_IDENTITY_KEYS"]);
    expect([basename(privateFile!), basename(publicFile!)]).toEqual([PRIVATE_KEY_FILE, PUBLIC_KEY_FILE]);
    expect(dirname(privateFile!)).toBe(dirname(publicFile!));
    // `git check-ignore` exits 0 for an ignored path, whether or not it exists.
    expect(() => execFileSync("git", ["check-ignore", "-q", join(OVERLAY, privateFile!)])).not.toThrow();
  });

  it("validates its own resources and its patched objects against the Kubernetes schemas", async () => {
    const own = (overlay.resources ?? []).filter((resource) => resource.endsWith(".yaml")).flatMap((file) => yamlDocuments(join(OVERLAY, file)));
    const patched = (overlay.patches ?? []).map((patch) => {
      const target = byKind(patch.target.kind, patch.target.name);
      expect(target, `${patch.target.kind}/${patch.target.name}`).toBeDefined();
      return mergePatch(target, yamlDocuments(join(OVERLAY, patch.path))[0]) as Manifest;
    });
    expect(patched.length).toBeGreaterThan(0);
    const errors = (await Promise.all([...own, ...patched].map(schemaErrors))).filter((error) => error !== null);
    expect(errors).toEqual([]);
  });

  it("catches a manifest that breaks the schema (the validation is real)", async () => {
    const broken = structuredClone(byKind("Deployment", "ddwf-worker")!) as Manifest & { spec: { replicas: unknown } };
    broken.spec.replicas = "two";
    expect(await schemaErrors(broken)).toMatch(/replicas/);
  });
});

describe("docker-compose.cluster.yml", () => {
  type ComposeService = { environment?: Record<string, string>; image?: string; volumes?: string[]; command?: string[]; depends_on?: Record<string, { condition: string }> };
  const compose = parse(readFileSync("docker-compose.cluster.yml", "utf8"), { merge: true }) as { services: Record<string, ComposeService> };

  it("describes three Restate nodes, the balancer, two worker replicas, the DAPI, PostgreSQL and Prometheus", () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining(["restate-1", "restate-2", "restate-3", "haproxy", "worker-1", "worker-2", "dapi", "postgres", "prometheus"]),
    );
  });

  it("lets exactly one node provision the cluster, keeps telemetry off, and gives every node the same config file", () => {
    const nodes = ["restate-1", "restate-2", "restate-3"].map((name) => compose.services[name]!);
    expect(nodes.map((node) => node.environment?.RESTATE_AUTO_PROVISION)).toEqual(["true", "false", "false"]);
    for (const node of nodes) {
      expect(node.environment).toMatchObject({ RESTATE_DISABLE_TELEMETRY: "true", DO_NOT_TRACK: "1", RESTATE_CONFIG: "/etc/restate/restate-cluster.toml" });
      expect(node.volumes).toContain("./infra/cluster/restate-cluster.toml:/etc/restate/restate-cluster.toml:ro");
    }
  });

  it("gives the worker replicas and the DAPI only variables the config schema knows", () => {
    for (const name of ["worker-1", "worker-2", "dapi"]) {
      const environment = compose.services[name]?.environment ?? {};
      expect(Object.keys(environment).length).toBeGreaterThan(0);
      expect(Object.keys(environment).filter((variable) => !known.has(variable)), name).toEqual([]);
    }
  });

  it("points the replicas at the balancer's one deployment URL", () => {
    expect(compose.services["worker-1"]?.environment?.WORKER_ADVERTISED_URL).toBe("http://haproxy:9080");
    expect(compose.services["worker-2"]?.environment?.WORKER_ADVERTISED_URL).toBe("http://haproxy:9080");
  });

  it("runs HAProxy with the configuration npm run cluster generates, rendered for the compose services", () => {
    expect(readFileSync("infra/cluster/haproxy.compose.cfg", "utf8"), "regenerate infra/cluster/haproxy.compose.cfg from COMPOSE_HAPROXY_PLAN").toBe(
      renderHaproxyConfig(COMPOSE_HAPROXY_PLAN),
    );
    const servers = COMPOSE_HAPROXY_PLAN.worker.servers.map((server) => server.host);
    expect(servers.every((host) => host in compose.services)).toBe(true);
  });

  it("wires request identity: every node signs with the key restate-identity creates, every replica accepts only its public key", () => {
    expect(compose.services["restate-identity"]?.command).toEqual(["node", "services/cli/request-identity-keys.ts", "/identity/private", "/identity/public"]);
    for (const name of ["restate-1", "restate-2", "restate-3"]) {
      const node = compose.services[name]!;
      expect(node.environment?.[RESTATE_SIGNING_KEY_ENV], name).toBe(`/identity/${PRIVATE_KEY_FILE}`);
      expect(node.volumes, name).toContain("restate-identity-private:/identity:ro");
      expect(node.depends_on?.["restate-identity"], name).toEqual({ condition: "service_completed_successfully" });
    }
    for (const name of ["worker-1", "worker-2"]) {
      expect(compose.services[name]?.volumes, name).toEqual(["restate-identity-public:/identity:ro"]);
      expect(compose.services[name]?.command?.join(" "), name).toContain(`RESTATE_IDENTITY_KEYS=$$(cat /identity/${PUBLIC_KEY_FILE})`);
    }
  });

  it("mounts the private key only into the nodes and the service that creates it", () => {
    const holders = Object.entries(compose.services).filter(([, service]) => (service.volumes ?? []).some((volume) => volume.startsWith("restate-identity-private:")));
    expect(holders.map(([name]) => name).sort()).toEqual(["restate-1", "restate-2", "restate-3", "restate-identity"]);
  });

  it("has the balancer forward requests without touching headers or paths (Restate's signature is bound to both)", () => {
    const rewriting = readFileSync("infra/cluster/haproxy.compose.cfg", "utf8")
      .split("\n")
      .filter((line) => /^\s*(http-request|http-response|http-after-response|req[a-z]+|rsp[a-z]+)\s/.test(line));
    expect(rewriting).toEqual([]);
  });

  it("has Prometheus scrape every node and every replica", () => {
    const prometheus = parse(readFileSync("infra/prometheus/prometheus.cluster.yml", "utf8")) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    const targets = prometheus.scrape_configs.flatMap((job) => job.static_configs.flatMap((config) => config.targets));
    expect(targets).toEqual(expect.arrayContaining(["restate-1:5122", "restate-2:5122", "restate-3:5122", "worker-1:9464", "worker-2:9464", "dapi:3000"]));
  });
});
