/**
 * The balancer of docker-compose.cluster.yml: the same HAProxy configuration as `npm run cluster`,
 * rendered for the compose service names. infra/cluster/haproxy.compose.cfg is this plan rendered;
 * a test keeps the two equal.
 */
import type { HaproxyPlan } from "./haproxy.ts";

const nodes = (port: number) => [1, 2, 3].map((i) => ({ name: `restate-${i}`, host: `restate-${i}`, port }));

export const COMPOSE_HAPROXY_PLAN: HaproxyPlan = {
  host: "0.0.0.0",
  dockerDns: true,
  ingress: { port: 8080, servers: nodes(8080) },
  admin: { port: 9070, servers: nodes(9070) },
  worker: { port: 9080, servers: [1, 2].map((i) => ({ name: `worker-${i}`, host: `worker-${i}`, port: 9080 })) },
  statsPort: 8404,
};
