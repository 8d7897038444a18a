/**
 * The outbound rules of the guarded fetcher, checked ahead of time: when a user stores a URL the
 * gateway will call later (MCP server, webhook), a private address is refused at creation with a
 * clear 400 instead of failing on every later call. The fetcher still checks every connection,
 * so a name that changes its answers later (DNS rebinding) is caught there.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { classifyAddress, parseHostAddress } from "./address-policy";
import { type ResolveHost, createAllowlist, defaultPort, normalizeHost } from "./guarded-fetch";

export interface UrlPolicyOptions {
  /** host[:port] entries exempt from the block (OPENPAW_FETCH_ALLOWLIST). */
  allowlist: readonly string[];
  lookup?: ResolveHost;
}

/** Why the gateway will not call `raw`, or null when it may. Resolves host names to check their addresses. */
export async function outboundUrlProblem(raw: string, options: UrlPolicyOptions): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "Must be an absolute http(s) URL.";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "Only http and https URLs are allowed.";
  if (url.username || url.password) return "URLs with credentials (user:password@host) are not allowed; use headers instead.";
  if (createAllowlist(options.allowlist)(url.hostname, url.port || defaultPort(url.protocol))) return null;
  const literal = parseHostAddress(url.hostname);
  if (literal) {
    const kind = classifyAddress(literal);
    return kind ? `${literal} is a ${kind} address; only public addresses may be called.` : null;
  }
  const name = normalizeHost(url.hostname);
  if (name === "localhost" || name.endsWith(".localhost")) return `${url.hostname} is a loopback name; only public addresses may be called.`;
  const resolve = options.lookup ?? ((host: string) => dnsLookup(host, { all: true, verbatim: true }));
  let addresses: Array<{ address: string }>;
  try {
    addresses = await resolve(name);
  } catch {
    // A name that does not resolve now is no address at all; the fetcher checks again at every call.
    return null;
  }
  for (const { address } of addresses) {
    const kind = classifyAddress(address);
    if (kind) return `${url.hostname} resolves to ${address}, a ${kind} address; only public addresses may be called.`;
  }
  return null;
}
