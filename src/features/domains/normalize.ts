import { isIP } from "node:net";
import { domainToASCII } from "node:url";

/** Longest hostname DNS can carry (RFC 1035, without the root dot). */
export const MAX_DOMAIN_LENGTH = 253;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Characters that would make the input a URL rather than a hostname (or be silently eaten by the IDN parser). */
const NOT_HOSTNAME = /[\s/\\?#@:%[\]]|[\u0000-\u001f\u007f]/;

export type DomainCheck = { ok: true; domain: string } | { ok: false; reason: string };

/** Lower case, without brackets, port or trailing dot: the form hosts are compared in. */
export function canonicalHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end > 0 ? h.slice(1, end) : h;
  }
  // One colon is host:port; more than one is a bare IPv6 literal, kept whole.
  if (h.split(":").length === 2) h = h.slice(0, h.indexOf(":"));
  return h.replace(/\.$/, "");
}

/** True when `host` is `parent` itself or one of its subdomains. */
export function isSameOrSubdomain(host: string, parent: string): boolean {
  return parent !== "" && (host === parent || host.endsWith(`.${parent}`));
}

/**
 * Normalises a custom domain as a user typed it (case, trailing dot, IDN to punycode) and checks
 * that it can be one: a hostname of at least two valid labels, not an IP literal, not localhost,
 * not one of the gateway's own names (`reserved`: the public host, the CNAME target) or below them.
 * The reason is written for the person who typed it.
 */
export function normalizeDomain(input: string, reserved: readonly string[]): DomainCheck {
  const raw = input.trim().toLowerCase().replace(/\.$/, "");
  if (raw === "") return { ok: false, reason: "The domain is empty." };
  if (raw.length > MAX_DOMAIN_LENGTH * 4) return { ok: false, reason: `The domain is longer than ${MAX_DOMAIN_LENGTH} characters.` };
  const unbracketed = raw.replace(/^\[(.*)\]$/, "$1");
  if (isIP(unbracketed)) return { ok: false, reason: "IP addresses cannot be custom domains; use a hostname." };
  if (NOT_HOSTNAME.test(raw)) {
    return { ok: false, reason: "Give a bare hostname such as api.example.com, without scheme, port, path or spaces." };
  }
  // WHATWG parsing reads a numeric last label as an IPv4 address (0x7f.1 is 127.0.0.1).
  const last = raw.slice(raw.lastIndexOf(".") + 1);
  if (/^(0x[0-9a-f]*|[0-9]+)$/.test(last)) return { ok: false, reason: "IP addresses cannot be custom domains; use a hostname." };
  const ascii = domainToASCII(raw);
  if (ascii === "") return { ok: false, reason: "The domain is not a valid hostname (an invalid internationalised name?)." };
  if (isIP(ascii)) return { ok: false, reason: "IP addresses cannot be custom domains; use a hostname." };
  if (ascii.length > MAX_DOMAIN_LENGTH) return { ok: false, reason: `The domain is longer than ${MAX_DOMAIN_LENGTH} characters.` };
  const labels = ascii.split(".");
  if (labels.at(-1) === "localhost") return { ok: false, reason: "localhost cannot be a custom domain." };
  if (labels.length < 2) return { ok: false, reason: "The domain needs at least two labels, such as example.com." };
  for (const label of labels) {
    if (label.length > 63) return { ok: false, reason: `The label "${label.slice(0, 20)}…" is longer than 63 characters.` };
    if (!LABEL.test(label)) {
      return {
        ok: false,
        reason: `The label "${label}" is not valid: use letters, digits and hyphens, not starting or ending with a hyphen.`,
      };
    }
  }
  for (const name of reserved) {
    if (isSameOrSubdomain(ascii, canonicalHost(name))) {
      return { ok: false, reason: `The gateway's own domain (${canonicalHost(name)}) and its subdomains cannot be custom domains.` };
    }
  }
  return { ok: true, domain: ascii };
}
