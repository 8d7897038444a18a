import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeDns, resolverLookup, startFakeDns } from "../../../test/fakes/dns";
import { type FakeWeb, hugeBody, redirectTo, respond, startFakeWeb, trickle } from "../../../test/fakes/web";
import { createGuardedFetcher, type GuardedFetcher } from "./net/guarded-fetch";
import { createReadUrlTool } from "./read-url";
import type { ToolContext, ToolDefinition, ToolOutput } from "./types";

let dns: FakeDns;
let site: FakeWeb; // the one allowlisted server
let trap: FakeWeb; // dual-stack listener every SSRF attempt aims at; must never see a connection
let fetcher: GuardedFetcher;
let tool: ToolDefinition<{ url: string }>;
const huge = hugeBody(8 * 1024 * 1024);

function context(signal: AbortSignal = new AbortController().signal): ToolContext {
  return { orgId: "org_1", agentId: "ag_1", runId: "run_1", conversationId: "conv_1", signal };
}

async function read(url: string, signal?: AbortSignal): Promise<ToolOutput> {
  const parsed = tool.input.parse({ url });
  const out = await tool.execute(parsed, context(signal));
  return typeof out === "string" ? { content: out } : out;
}

const ARTICLE = `<!doctype html><html><head><title>Otters &amp; Rivers</title>
<style>body{color:red}</style><script>window.secret = "do not show"</script></head>
<body><nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<article><h1>Otters &amp; Rivers</h1>
<p>River otters are semiaquatic mammals that live along waterways. They eat fish, crayfish and frogs,
and they are known for <strong>playful</strong> behaviour such as sliding down muddy banks.
${"They have dense fur that keeps them warm in cold water. ".repeat(8)}</p>
<h2>Habitat</h2>
<p>Otters need clean water and plenty of food. See <a href="/habitat#streams">the habitat guide</a>.
${"Their dens are called holts and are often dug into river banks. ".repeat(6)}</p>
<ul><li>Rivers</li><li>Lakes</li></ul>
</article><footer>Copyright footer text</footer></body></html>`;

beforeAll(async () => {
  dns = await startFakeDns();
  site = await startFakeWeb();
  trap = await startFakeWeb({ host: "::" });
  const p = trap.port;
  dns.setRecord("evil.test", "A", ["127.0.0.1"]);
  dns.setRecord("evil6.test", "AAAA", ["::1"]);
  dns.setRecord("mapped.test", "AAAA", ["::ffff:127.0.0.1"]);
  dns.setRecord("metadata.test", "A", ["169.254.169.254"]);
  dns.setRecord("lan.test", "A", ["192.168.1.20"]);
  dns.setRecord("mixed.test", "A", ["93.184.216.34", "127.0.0.1"]);
  dns.setRecord("alias.test", "CNAME", ["evil.test"]);
  dns.setRecord("nat64.test", "AAAA", ["64:ff9b::7f00:1"]);

  site.route("/article", respond(ARTICLE, "text/html; charset=utf-8"));
  site.route("/plain", respond("just some text\nline two", "text/plain"));
  site.route("/data.json", respond('{"answer":42,"items":["a","b"]}', "application/json"));
  site.route("/image.png", respond(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), "image/png"));
  site.route("/no-article", respond("<html><body><aside>Side note <b>only</b></aside><script>x()</script></body></html>", "text/html"));
  site.route("/fragment", respond("plain words, <i>no</i> document", "text/html"));
  site.route("/latin1", respond(new Uint8Array([0x63, 0x61, 0x66, 0xe9]), "text/plain; charset=iso-8859-1"));
  site.route("/missing", respond("<h1>Nope</h1>", "text/html", 404));
  site.route("/moved", redirectTo("/article", 301));
  site.route("/huge", huge);
  site.route("/slow", trickle(100));
  site.route("/to-trap", redirectTo(`http://127.0.0.1:${p}/`));
  site.route("/to-trap-mapped", redirectTo(`http://[::ffff:7f00:1]:${p}/`));
  site.route("/to-evil-name", redirectTo(`http://evil.test:${p}/`));
  site.route("/to-metadata", redirectTo("http://169.254.169.254/latest/meta-data/iam/"));
  site.route("/to-file", redirectTo("file:///etc/passwd"));
  site.route("/to-chain", redirectTo("/to-trap", 307));

  fetcher = createGuardedFetcher({
    allowlist: [`127.0.0.1:${site.port}`],
    lookup: resolverLookup(dns.address),
    timeoutMs: 1000,
    maxBytes: 256 * 1024,
  });
  tool = createReadUrlTool({ fetcher, maxOutputChars: 100_000 });
});

afterAll(async () => {
  await fetcher.close();
  await Promise.all([site.close(), trap.close(), dns.close()]);
});

/**
 * Every form here must be refused before (or instead of) any connection to the trap.
 * `{p}` is the trap's port, `{site}` the allowlisted server's origin.
 */
const SSRF_MATRIX: string[] = [
  // IPv4 private and reserved ranges
  "http://127.0.0.1:{p}/",
  "http://127.8.9.10:{p}/",
  "http://0.0.0.0:{p}/",
  "http://0:{p}/",
  "http://10.0.0.1/",
  "http://10.255.255.254/",
  "http://100.64.0.1/",
  "http://169.254.169.254/latest/meta-data/",
  "http://169.254.1.1/",
  "http://172.16.0.1/",
  "http://172.31.255.254/",
  "http://192.0.0.8/",
  "http://192.0.2.10/",
  "http://192.88.99.1/",
  "http://192.168.1.1/",
  "http://198.18.0.1/",
  "http://198.51.100.20/",
  "http://203.0.113.5/",
  "http://224.0.0.251/",
  "http://239.255.255.250:1900/",
  "http://240.0.0.1/",
  "http://255.255.255.255/",
  // unusual spellings of 127.0.0.1 and friends
  "http://2130706433:{p}/",
  "http://0177.0.0.1:{p}/",
  "http://0x7f.1:{p}/",
  "http://0x7f000001:{p}/",
  "http://017700000001:{p}/",
  "http://127.1:{p}/",
  "http://127.0.1:{p}/",
  "http://127.0.0.1.:{p}/",
  "http://0xa9.0xfe.0xa9.0xfe/",
  "http://3232235777/",
  // IPv6
  "http://[::1]:{p}/",
  "http://[::]:{p}/",
  "http://[0:0:0:0:0:0:0:1]:{p}/",
  "http://[::ffff:127.0.0.1]:{p}/",
  "http://[::ffff:7f00:1]:{p}/",
  "http://[::ffff:169.254.169.254]/",
  "http://[::ffff:a00:1]/",
  "http://[::127.0.0.1]:{p}/",
  "http://[64:ff9b::7f00:1]/",
  "http://[64:ff9b::169.254.169.254]/",
  "http://[64:ff9b:1::a00:1]/",
  "http://[fc00::1]/",
  "http://[fd00:ec2::254]/",
  "http://[fe80::1]/",
  "http://[ff02::1]/",
  "http://[2001:db8::1]/",
  "http://[2002:7f00:1::1]/",
  "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
  "http://[fec0::1]/",
  // names
  "http://localhost:{p}/",
  "http://LOCALHOST.:{p}/",
  "http://api.localhost:{p}/",
  "http://evil.test:{p}/",
  "http://evil6.test:{p}/",
  "http://mapped.test:{p}/",
  "http://alias.test:{p}/",
  "http://mixed.test:{p}/",
  "http://nat64.test:{p}/",
  "http://metadata.test/latest/meta-data/",
  "http://lan.test/",
  // userinfo and parser tricks
  "http://example.com@127.0.0.1:{p}/",
  "http://127.0.0.1:{p}@example.com/",
  "http://user:pass@93.184.216.34/",
  "http://127.0.0.1:{p}#@example.com/",
  "http://127.0.0.1:{p}\\@example.com/",
  "  HTTP://127.0.0.1:{p}/  ",
  // redirects from the allowlisted server
  "{site}/to-trap",
  "{site}/to-trap-mapped",
  "{site}/to-evil-name",
  "{site}/to-metadata",
  "{site}/to-file",
  "{site}/to-chain",
  // other schemes
  "file:///etc/passwd",
  "ftp://127.0.0.1:{p}/",
  "gopher://127.0.0.1:{p}/_GET%20/",
  "data:text/plain,hello",
  "javascript:alert(1)",
  "ws://127.0.0.1:{p}/",
  "dict://127.0.0.1:11211/stat",
];

describe("read_url SSRF matrix", () => {
  it("has at least 40 forms", () => {
    expect(SSRF_MATRIX.length).toBeGreaterThanOrEqual(40);
  });

  it.each(SSRF_MATRIX)("refuses %s", async (template) => {
    const url = template.replaceAll("{p}", String(trap.port)).replace("{site}", site.origin);
    const out = await read(url);
    expect(out.isError).toBe(true);
    expect(out.content).toMatch(/^Refused: /);
    expect(trap.connections).toBe(0);
  });

  it("let none of them reach the trap", () => {
    expect(trap.connections).toBe(0);
    expect(trap.requests).toEqual([]);
  });

  it("names the address and why in the refusal", async () => {
    expect((await read("http://10.0.0.1/")).content).toBe("Refused: 10.0.0.1 is a private address, not a public one");
    expect((await read(`http://[::ffff:7f00:1]:${trap.port}/`)).content).toMatch(
      /^Refused: ::ffff:7f00:1 is an IPv4-mapped loopback address/,
    );
    expect((await read(`http://evil.test:${trap.port}/`)).content).toMatch(
      /^Refused: 127\.0\.0\.1 is a loopback address.*evil\.test resolves to it/,
    );
    expect((await read(`${site.origin}/to-metadata`)).content).toMatch(/169\.254\.169\.254 is a link-local address/);
  });

  it("cuts oversized pages at the byte cap instead of downloading them", async () => {
    const out = await read(`${site.origin}/huge`);
    expect(out.isError).toBeFalsy();
    expect(out.content).toMatch(
      /\[Truncated: the page was larger than the download limit and was cut; 162144 more characters were cut\.\]$/,
    );
    expect(out.content.split("\n\n")[1]).toHaveLength(100_000);
    // The server stopped well short of its 8 MB once the reader went away.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(huge.sent.last).toBeLessThan(4 * 1024 * 1024);
  });

  it("gives up on a slow page at the deadline", async () => {
    const started = Date.now();
    const out = await read(`${site.origin}/slow`);
    expect(out).toEqual({ content: "Could not read the page: Timed out after 1000 ms", isError: true });
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it("stops when the run is cancelled", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const out = await read(`${site.origin}/slow`, controller.signal);
    expect(out).toEqual({ content: "Cancelled before the page was read", isError: true });
  });
});

describe("read_url content", () => {
  it("returns an allowlisted page's title, final URL and readable markdown", async () => {
    const out = await read(`${site.origin}/moved`);
    expect(out.isError).toBeFalsy();
    const lines = out.content.split("\n");
    expect(lines[0]).toBe("Title: Otters & Rivers");
    expect(lines[1]).toBe(`URL: ${site.origin}/article`);
    expect(out.content).toContain("River otters are semiaquatic mammals");
    expect(out.content).toContain("**playful**");
    expect(out.content).toContain("## Habitat");
    expect(out.content).toContain(`[the habitat guide](${site.origin}/habitat#streams)`);
    expect(out.content).toMatch(/^- Rivers$/m);
    expect(out.content).not.toContain("do not show");
    expect(out.content).not.toContain("color:red");
  });

  it("falls back to the body's text when Readability finds no article", async () => {
    const out = await read(`${site.origin}/no-article`);
    expect(out.content).toBe(`URL: ${site.origin}/no-article\n\nSide note only`);
    expect((await read(`${site.origin}/fragment`)).content).toBe(`URL: ${site.origin}/fragment\n\nplain words, _no_ document`);
  });

  it("returns text and JSON as they are, decoding the declared charset", async () => {
    expect((await read(`${site.origin}/plain`)).content).toBe(`URL: ${site.origin}/plain\n\njust some text\nline two`);
    expect((await read(`${site.origin}/data.json`)).content).toContain('{"answer":42,"items":["a","b"]}');
    expect((await read(`${site.origin}/latin1`)).content).toContain("café");
  });

  it("refuses other content types and reports HTTP errors", async () => {
    expect(await read(`${site.origin}/image.png`)).toEqual({
      content: `Cannot read ${site.origin}/image.png: content type image/png is not text, HTML or JSON.`,
      isError: true,
    });
    const missing = await read(`${site.origin}/missing`);
    expect(missing.isError).toBe(true);
    expect(missing.content).toBe(`HTTP 404 from ${site.origin}/missing: <h1>Nope</h1>`);
  });

  it("caps the text it returns", async () => {
    const small = createReadUrlTool({ fetcher, maxOutputChars: 50 });
    const out = await small.execute({ url: `${site.origin}/article` }, context());
    const content = typeof out === "string" ? out : out.content;
    expect(content).toMatch(/\[Truncated: \d+ more characters were cut\.\]$/);
    expect(content.split("\n\n")[1]).toHaveLength(50);
  });

  it("describes itself as a free tool named read_url", () => {
    expect(tool.name).toBe("read_url");
    expect(tool.tier).toBe("free");
    expect(tool.input.safeParse({}).success).toBe(false);
  });
});
