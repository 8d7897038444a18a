/**
 * SSRF through the whole gateway. The unit matrix of the guarded fetcher lives in
 * src/runtime/tools/read-url.test.ts; this suite adds: read_url driven by the fake model in a
 * real chat, names answered with private addresses by a local DNS server, redirects from an
 * allowlisted server to private targets, and the gateway's own registered read_url (system
 * resolver) called with literal and localhost forms. A dual-stack listener on loopback, the
 * target of every attempt, must see zero connections.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGuardedFetcher } from "../../src/runtime/tools/net/guarded-fetch";
import { createReadUrlTool } from "../../src/runtime/tools/read-url";
import type { ToolDefinition, ToolOutput } from "../../src/runtime/tools/types";
import { type FakeDns, resolverLookup, startFakeDns } from "../fakes/dns";
import { type FakeWeb, redirectTo, respond, startFakeWeb } from "../fakes/web";
import { eventsOf, parseSse } from "../helpers/sse";
import { type OrgWorld, type SecurityEnv, buildWorld, findLeaks, startSecurityEnv } from "./support";

let env: SecurityEnv;
let w: OrgWorld;
let dns: FakeDns;
let site: FakeWeb;
let trap: FakeWeb;
let gatewayReadUrl: ToolDefinition<{ url: string }>;
let dnsFetcher: ReturnType<typeof createGuardedFetcher>;
let attempts = 0;

beforeAll(async () => {
  dns = await startFakeDns();
  site = await startFakeWeb();
  trap = await startFakeWeb({ host: "::" });
  const p = trap.port;
  dns.setRecord("evil.test", "A", ["127.0.0.1"]);
  dns.setRecord("evil6.test", "AAAA", ["::1"]);
  dns.setRecord("mapped.test", "AAAA", ["::ffff:127.0.0.1"]);
  dns.setRecord("metadata.test", "A", ["169.254.169.254"]);
  dns.setRecord("lan.test", "A", ["10.1.2.3"]);
  dns.setRecord("mixed.test", "A", ["93.184.216.34", "127.0.0.1"]);
  dns.setRecord("alias.test", "CNAME", ["evil.test"]);
  site.route("/ok", respond("<html><body><article><p>A harmless public page about otters.</p></article></body></html>", "text/html"));
  site.route("/to-trap", redirectTo(`http://127.0.0.1:${p}/`));
  site.route("/to-trap-v6", redirectTo(`http://[::1]:${p}/`));
  site.route("/to-evil", redirectTo(`http://evil.test:${p}/`));
  site.route("/to-alias", redirectTo(`http://alias.test:${p}/`, 307));
  site.route("/to-metadata", redirectTo("http://169.254.169.254/latest/meta-data/"));
  site.route("/to-file", redirectTo("file:///etc/passwd"));
  site.route("/to-chain", redirectTo("/to-evil", 308));

  env = await startSecurityEnv({ OPENPAW_FETCH_ALLOWLIST: `127.0.0.1:${site.port}` });
  gatewayReadUrl = env.h.services.tools.forRun(["read_url"], "free")[0] as ToolDefinition<{ url: string }>;
  expect(gatewayReadUrl?.name).toBe("read_url");
  // The same tool and fetcher as the gateway builds (src/tools.ts), with the fake DNS server as its
  // resolver: the one seam the product offers (GuardedFetcherOptions.lookup).
  dnsFetcher = createGuardedFetcher({ allowlist: env.h.config.fetchAllowlist, lookup: resolverLookup(dns.address) });
  env.h.services.tools.add(createReadUrlTool({ fetcher: dnsFetcher, maxOutputChars: env.h.config.limits.toolOutputChars * 2 }));
  w = await buildWorld(env, "Ssrf");
}, 60_000);

afterAll(async () => {
  await env?.close();
  await dnsFetcher?.close();
  await Promise.all([site?.close(), trap?.close(), dns?.close()]);
});

/** Runs a chat in which the model asks read_url for `url`; returns the tool_result event. */
async function viaChat(url: string): Promise<{ output: string; isError: boolean }> {
  attempts++;
  env.model.enqueue({ toolCalls: [{ name: "read_url", input: { url } }] }, { text: "Done." });
  const res = await env.call(
    "POST",
    `/v1/agent/${w.agentId}/chat`,
    { key: w.chatKey.key, body: { message: `read ${url}` }, raw: undefined },
    20_000,
  );
  expect(res.status).toBe(200);
  const events = eventsOf(parseSse(res.text));
  const result = events.find((e) => e.event === "tool_result");
  expect(result, res.text).toBeDefined();
  expect(events.at(-1)?.event).toBe("done");
  return { output: result?.data.output, isError: result?.data.isError };
}

async function direct(url: string): Promise<ToolOutput> {
  attempts++;
  const out = await gatewayReadUrl.execute(gatewayReadUrl.input.parse({ url }), {
    orgId: w.orgId,
    agentId: w.agentId,
    runId: "run_ssrf",
    conversationId: "conv_ssrf",
    signal: new AbortController().signal,
  });
  return typeof out === "string" ? { content: out } : out;
}

/** Forms sent through a real chat: DNS answers and redirects from the allowlisted server. */
const CHAT_FORMS = [
  "http://evil.test:{p}/",
  "http://evil6.test:{p}/",
  "http://mapped.test:{p}/",
  "http://alias.test:{p}/",
  "http://mixed.test:{p}/",
  "http://metadata.test/latest/meta-data/",
  "http://lan.test/",
  "{site}/to-trap",
  "{site}/to-trap-v6",
  "{site}/to-evil",
  "{site}/to-alias",
  "{site}/to-metadata",
  "{site}/to-file",
  "{site}/to-chain",
];

/** Forms given to the gateway's own read_url (system resolver). */
const DIRECT_FORMS = [
  "http://127.0.0.1:{p}/",
  "http://127.1:{p}/",
  "http://2130706433:{p}/",
  "http://0x7f.0.0.1:{p}/",
  "http://0177.0.0.01:{p}/",
  "http://0.0.0.0:{p}/",
  "http://[::1]:{p}/",
  "http://[::]:{p}/",
  "http://[::ffff:127.0.0.1]:{p}/",
  "http://[::ffff:7f00:1]:{p}/",
  "http://[0:0:0:0:0:ffff:7f00:1]:{p}/",
  "http://[64:ff9b::127.0.0.1]:{p}/",
  "http://localhost:{p}/",
  "http://LocalHost.:{p}/",
  "http://app.localhost:{p}/",
  "http://169.254.169.254/latest/meta-data/",
  "http://[fd00:ec2::254]/latest/meta-data/",
  "http://100.100.100.200/latest/meta-data/",
  "http://10.0.0.1/",
  "http://172.16.5.4/",
  "http://192.168.0.1/",
  "http://user@127.0.0.1:{p}/",
  "http://127.0.0.1:{p}#@example.com/",
  "https://127.0.0.1:{p}/",
  "file:///etc/passwd",
  "gopher://127.0.0.1:{p}/_x",
  "ftp://127.0.0.1:{p}/",
  "data:text/html,<h1>x</h1>",
  "ws://127.0.0.1:{p}/",
  "http://127.0.0.1:{p}%2f@example.com/",
];

const fill = (t: string) => t.replaceAll("{p}", String(trap.port)).replace("{site}", site.origin);

describe("SSRF through the gateway", () => {
  it("has at least 40 URL forms", () => {
    expect(CHAT_FORMS.length + DIRECT_FORMS.length).toBeGreaterThanOrEqual(40);
  });

  it("reads the allowlisted page through a real chat (the wiring works)", async () => {
    const ok = await viaChat(`${site.origin}/ok`);
    expect(ok.isError).toBe(false);
    expect(ok.output).toContain("harmless public page");
  });

  it.each(CHAT_FORMS)("refuses %s when a model asks for it in a chat", async (form) => {
    const result = await viaChat(fill(form));
    expect(result.isError).toBe(true);
    expect(result.output).toMatch(/^Refused: /);
    expect(trap.connections).toBe(0);
  });

  it.each(DIRECT_FORMS)("the gateway's read_url refuses %s", async (form) => {
    const out = await direct(fill(form));
    expect(out.isError).toBe(true);
    expect(out.content).toMatch(/^(Refused: |Could not read)/);
    expect(trap.connections).toBe(0);
  });

  it("let nothing reach the private listener, and leaked nothing", () => {
    expect(trap.connections).toBe(0);
    expect(trap.requests).toEqual([]);
    expect(dns.queries.length).toBeGreaterThan(0);
    expect(findLeaks(env)).toEqual([]);
    console.log(
      `ssrf: ${attempts} attempts (${CHAT_FORMS.length + 1} via chat, ${DIRECT_FORMS.length} direct), private listener connections: ${trap.connections}`,
    );
  });
});
