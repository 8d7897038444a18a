import { promises as dns } from "node:dns";

/** Name of the TXT record that proves control of `domain`. */
export const verificationRecordName = (domain: string) => `_openpaw-verify.${domain}`;
/** Value the TXT record must contain for `token`. */
export const verificationRecordValue = (token: string) => `openpaw-verify=${token}`;

/** The outcome of one look at a domain's DNS. */
export interface DnsCheckResult {
  /** The TXT record carries the expected value. */
  txtOk: boolean;
  /** The domain is a CNAME of the target. */
  cnameOk: boolean;
  /** Verified under the configured rules (TXT, plus the CNAME when it is required). */
  verified: boolean;
  /** Why it is not verified; null when it is. */
  reason: string | null;
}

export interface DomainVerifierOptions {
  /** ip[:port] entries; empty means the system's resolvers. */
  dnsServers: string[];
  cnameTarget: string;
  requireCname: boolean;
}

/** Explains a resolver error code to the person who has to fix their DNS. */
function explain(code: string | undefined, name: string, type: string): string {
  switch (code) {
    case dns.NOTFOUND:
      return `${name} does not exist in DNS (NXDOMAIN); add the ${type} record.`;
    case dns.NODATA:
      return `${name} has no ${type} record yet.`;
    case dns.TIMEOUT:
      return `The DNS lookup of ${name} timed out; will retry.`;
    case dns.SERVFAIL:
    case dns.REFUSED:
    case dns.CONNREFUSED:
      return `The DNS server could not answer for ${name} (${code}); will retry.`;
    default:
      return `The DNS lookup of ${name} failed (${code ?? "unknown error"}); will retry.`;
  }
}

/**
 * Checks a domain's verification records with Node's resolver, asking the configured servers
 * (OPENPAW_DNS_SERVERS) when there are any. Never throws for DNS failures: they become reasons.
 */
export class DomainVerifier {
  private readonly resolver: dns.Resolver;
  private readonly cnameTarget: string;

  constructor(private readonly options: DomainVerifierOptions) {
    // Two tries of 1.5 s: a GET waits for this inline, so a dead server must not hang it for long.
    this.resolver = new dns.Resolver({ timeout: 1_500, tries: 2 });
    if (options.dnsServers.length > 0) {
      try {
        this.resolver.setServers(options.dnsServers);
      } catch (error) {
        throw new Error(`OPENPAW_DNS_SERVERS must list ip[:port] entries: ${(error as Error).message}`);
      }
    }
    this.cnameTarget = options.cnameTarget.toLowerCase().replace(/\.$/, "");
  }

  /** Looks up the TXT record (and the CNAME) of `domain` and says whether `token` is proven. */
  async check(domain: string, token: string): Promise<DnsCheckResult> {
    const txtName = verificationRecordName(domain);
    const expected = verificationRecordValue(token);
    const [txt, cname] = await Promise.allSettled([this.resolver.resolveTxt(txtName), this.resolver.resolveCname(domain)]);

    let txtOk = false;
    let txtReason: string | null = null;
    if (txt.status === "fulfilled") {
      // A long TXT value arrives split in 255-byte strings; they form one value.
      const values = txt.value.map((chunks) => chunks.join("").trim());
      txtOk = values.includes(expected);
      if (!txtOk) {
        const ours = values.filter((v) => v.startsWith("openpaw-verify="));
        txtReason = ours.length
          ? `The TXT record at ${txtName} holds another verification token; set it to "${expected}".`
          : `No TXT record at ${txtName} contains "${expected}".`;
      }
    } else {
      txtReason = explain((txt.reason as NodeJS.ErrnoException).code, txtName, "TXT");
    }

    let cnameOk = false;
    let cnameReason: string | null = null;
    if (cname.status === "fulfilled") {
      const targets = cname.value.map((t) => t.toLowerCase().replace(/\.$/, ""));
      cnameOk = targets.includes(this.cnameTarget);
      if (!cnameOk) cnameReason = `${domain} is a CNAME of ${targets.join(", ")}, not ${this.cnameTarget}.`;
    } else {
      cnameReason = explain((cname.reason as NodeJS.ErrnoException).code, domain, "CNAME");
    }

    const verified = txtOk && (cnameOk || !this.options.requireCname);
    const reason = verified ? null : (txtReason ?? cnameReason);
    return { txtOk, cnameOk, verified, reason };
  }
}
