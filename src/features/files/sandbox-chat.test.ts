import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { hasBwrap, hasChromium, tempDataDir } from "../../../test/fakes/sandbox-env";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { chatOverHttp } from "../../../test/helpers/sse";
import type { RunningServer } from "../../server";

const SONNET = "claude-sonnet-4-20250514";
const SANDBOX_TOOLS = ["exec", "read_file", "write_file"];

async function createAgent(h: Harness, account: Account, enabledTools: string[]): Promise<string> {
  const res = await h.request("POST", `/v1/orgs/${account.orgId}/agents`, {
    cookie: account.cookie,
    body: { name: "Coder", systemPrompt: "You write and run code.", model: SONNET, maxIterations: 10, enabledTools },
  });
  if (res.status !== 201) throw new Error(`create agent: ${res.status} ${res.text}`);
  return res.body.id;
}

const offeredTools = (body: any): string[] => (body.tools ?? []).map((tool: { name: string }) => tool.name);

// sandbox-env warns loudly on import when bwrap is absent; only then is this suite skipped.
describe.skipIf(!hasBwrap)("chat with the sandbox tools (Pro plan, real bubblewrap)", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let server: RunningServer;
  let data: { dir: string; cleanup(): Promise<void> };
  let pro: Account;
  let free: Account;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    // World-traversable data dir: as root the sandbox runs as nobody, who must reach the workspace.
    data = await tempDataDir();
    h = await createHarness({
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_DEFAULT_PLAN: "pro",
      OPENPAW_DATA_DIR: data.dir,
    });
    server = await h.listen();
    pro = await h.signup({ orgName: "Pro org" });
    free = await h.signup({ orgName: "Free org" });
    await h.services.db.kysely.updateTable("orgs").set({ plan: "free" }).where("id", "=", free.orgId).execute();
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
    await data?.cleanup();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.setFallback(() => ({ text: "ok" }));
  });

  it("registers exec, read_file and write_file because the sandbox probe passed", () => {
    const unavailable = h.services.tools.unavailable().filter((entry) => SANDBOX_TOOLS.includes(entry.name));
    expect(unavailable).toEqual([]);
  });

  it.skipIf(!hasChromium)(
    "offers the browser once Chromium's background probe passed",
    async () => {
      const deadline = Date.now() + 30_000;
      while (h.services.tools.unavailable().some((entry) => entry.name === "browser") && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(h.services.tools.unavailable().find((entry) => entry.name === "browser")).toBeUndefined();
      expect(h.services.tools.forRun(["browser"], "pro").map((tool) => tool.name)).toEqual(["browser"]);
      expect(h.services.tools.forRun(["browser"], "free")).toEqual([]);
    },
    40_000,
  );

  it("writes a script, runs it with python3 and reads its output, all visible through the files API", async () => {
    const agentId = await createAgent(h, pro, SANDBOX_TOOLS);
    const script = "total = sum(range(10))\nprint('sum is', total)\nopen('out.txt', 'w').write(f'python wrote {total * 2}\\n')\n";
    fake.enqueue(
      { toolCalls: [{ id: "toolu_w", name: "write_file", input: { path: "script.py", content: script } }] },
      { toolCalls: [{ id: "toolu_x", name: "exec", input: { command: "python3 script.py" } }] },
      { toolCalls: [{ id: "toolu_r", name: "read_file", input: { path: "/workspace/out.txt" } }] },
      { text: "The script printed 45 and wrote 90." },
    );
    const res = await chatOverHttp(server.url, agentId, { message: "Compute the sum of 0..9 in Python" }, { cookie: pro.cookie });
    expect(res.status).toBe(200);
    const results = res.events.filter((e) => e.event === "tool_result").map((e) => e.data);
    expect(results.map((r) => [r.tool, r.id, r.isError])).toEqual([
      ["write_file", "toolu_w", false],
      ["exec", "toolu_x", false],
      ["read_file", "toolu_r", false],
    ]);
    expect(results[1].output).toContain("sum is 45");
    expect(results[1].output).toMatch(/exit code:? 0/i);
    expect(results[2].output).toContain("python wrote 90");
    expect(res.events.at(-1)).toMatchObject({ event: "done", data: { toolCalls: 3, stopReason: "end_turn" } });

    // The model was offered the sandbox tools, and got the exec output back.
    expect(offeredTools(fake.requests[0].body)).toEqual(expect.arrayContaining(SANDBOX_TOOLS));
    expect(JSON.stringify(fake.requests[2].body.messages.at(-1))).toContain("sum is 45");

    const listing = await h.request("GET", `/v1/orgs/${pro.orgId}/files`, { cookie: pro.cookie });
    expect(listing.status).toBe(200);
    const names = listing.body.data.map((entry: { name: string }) => entry.name);
    expect(names).toEqual(expect.arrayContaining(["out.txt", "script.py"]));
    expect(listing.body.usage.bytes).toBe(Buffer.byteLength(script) + "python wrote 90\n".length);
    const out = await h.request("GET", `/v1/orgs/${pro.orgId}/files/content?path=out.txt`, { cookie: pro.cookie });
    expect(out.text).toBe("python wrote 90\n");

    // Another org's agent does not see this workspace.
    const other = await h.signup({ orgName: "Other pro org" });
    const otherAgent = await createAgent(h, other, SANDBOX_TOOLS);
    fake.enqueue(
      { toolCalls: [{ id: "toolu_o", name: "exec", input: { command: "ls -A /workspace; cat /workspace/out.txt" } }] },
      { text: "done" },
    );
    const peek = await chatOverHttp(server.url, otherAgent, { message: "look around" }, { cookie: other.cookie });
    const peekResult = peek.events.find((e) => e.event === "tool_result")?.data;
    expect(peekResult.output).not.toContain("python wrote");
    expect(peekResult.output).toContain("No such file");
  });

  it("does not offer exec to a free-plan org's agent that enables it", async () => {
    const agentId = await createAgent(h, free, [...SANDBOX_TOOLS, "memory_read"]);
    fake.enqueue({ text: "I cannot run code here." });
    const res = await chatOverHttp(server.url, agentId, { message: "run ls" }, { cookie: free.cookie });
    expect(res.status).toBe(200);
    expect(fake.requests).toHaveLength(1);
    const offered = offeredTools(fake.requests[0].body);
    expect(offered).toContain("memory_read");
    for (const name of SANDBOX_TOOLS) expect(offered).not.toContain(name);
  });
});

describe("Pro tools without Chromium", () => {
  it("reports the browser unavailable with the probe's reason when Chromium is missing, and still starts", async () => {
    const h = await createHarness({ OPENPAW_CHROMIUM_PATH: "/nonexistent/chromium" });
    try {
      // The probe of a missing binary settles at once; give its promise a turn.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const browser = h.services.tools.unavailable().find((entry) => entry.name === "browser");
      expect(browser?.reason).toBe("Chromium is not installed (/nonexistent/chromium is missing)");
      expect(h.services.tools.forRun(["browser"], "agency")).toEqual([]);
      expect((await h.request("GET", "/healthz")).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});
