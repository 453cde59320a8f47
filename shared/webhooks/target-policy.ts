/**
 * Where a webhook may be sent. A subscription URL must be https and must resolve only to public
 * addresses: loopback, private, link-local, unspecified and reserved addresses are refused, unless
 * WEBHOOK_ALLOW_INSECURE_URLS (development) allows http and every one of those but the cloud
 * metadata services, which no webhook receiver is.
 *
 * The check runs when a subscription is created or changed and again at every delivery, against the
 * address the request actually connects to: `createWebhookDispatcher` resolves the name itself and
 * refuses the connection when any address the name resolves to is refused, so a name that resolved
 * to a public address at creation and to 127.0.0.1 later (DNS rebinding) gets no request.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { Agent } from "undici";
import { classifyAddress, resolveAddresses, type AddressClass } from "../http/address-class.ts";

export type WebhookTargetPolicy = {
  /** WEBHOOK_ALLOW_INSECURE_URLS: http, and loopback, private and link-local receivers (development only). */
  allowInsecure: boolean;
};

/** Upper bound of the DNS lookup when a subscription is created. */
const LOOKUP_TIMEOUT_MS = 3_000;

/** The error code of a refused address, in the delivery attempt's error text. */
export const WEBHOOK_ADDRESS_REFUSED = "WEBHOOK_ADDRESS_REFUSED";

const ALWAYS_REFUSED: AddressClass[] = ["metadata", "unspecified", "reserved"];
const INSECURE_ONLY: AddressClass[] = ["loopback", "private", "link-local"];

/** Why a webhook may not reach `address`, or null. */
export function addressProblem(address: string, policy: WebhookTargetPolicy): string | null {
  const kind = classifyAddress(address);
  if (ALWAYS_REFUSED.includes(kind)) return `${address} is a ${kind} address, which webhooks never reach`;
  if (INSECURE_ONLY.includes(kind) && !policy.allowInsecure) {
    return `${address} is a ${kind} address; webhooks reach only public addresses (WEBHOOK_ALLOW_INSECURE_URLS=true allows it in development)`;
  }
  return null;
}

/** Why `url` cannot be a webhook URL, judged without DNS (scheme, credentials, an IP-literal host), or null. */
export function webhookUrlProblem(url: string, policy: WebhookTargetPolicy): string | null {
  if (!URL.canParse(url)) return "must be an absolute URL";
  const parsed = new URL(url);
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && policy.allowInsecure)) {
    return policy.allowInsecure ? "must be an http(s) URL" : "must be an https URL (WEBHOOK_ALLOW_INSECURE_URLS=true allows http in development)";
  }
  if (parsed.username || parsed.password) return "must not contain credentials (user:password@); authenticate the receiver with the webhook signature";
  if (parsed.hash) return "must not contain a fragment";
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  return isIP(host) === 0 ? null : addressProblem(host, policy);
}

/** Full check at creation: the URL, then every address its host resolves to now. */
export async function checkWebhookTarget(url: string, policy: WebhookTargetPolicy): Promise<string | null> {
  const problem = webhookUrlProblem(url, policy);
  if (problem) return problem;
  const host = new URL(url).hostname;
  if (isIP(host.replace(/^\[(.*)\]$/, "$1")) !== 0) return null;
  let addresses: string[];
  try {
    addresses = await resolveAddresses(host, LOOKUP_TIMEOUT_MS);
  } catch (error) {
    return `its host ${host} does not resolve (${(error as { code?: string }).code ?? "lookup failed"})`;
  }
  for (const address of addresses) {
    const refused = addressProblem(address, policy);
    if (refused) return `its host ${host} resolves to ${refused}`;
  }
  return null;
}

/** A DNS lookup that refuses the connection when any address of the name is refused. */
export function guardedLookup(policy: WebhookTargetPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "", 4);
      for (const { address } of addresses) {
        const problem = addressProblem(address, policy);
        if (problem) {
          const refused = Object.assign(new Error(`${hostname} resolves to ${problem}`), { code: WEBHOOK_ADDRESS_REFUSED });
          return callback(refused, "", 4);
        }
      }
      if (options.all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} resolves to no address`), { code: "ENOTFOUND" }), "", 4);
      return callback(null, first.address, first.family);
    });
  };
}

/** The HTTP dispatcher of webhook deliveries: every connection goes through the guarded lookup. */
export function createWebhookDispatcher(policy: WebhookTargetPolicy): Agent {
  return new Agent({ connect: { lookup: guardedLookup(policy) } });
}
