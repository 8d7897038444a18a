/**
 * The README's "First steps" must run as written: its shell blocks are extracted and executed
 * with bash (curl, jq) against a started gateway whose only model server is an OpenAI-compatible
 * fake listing one model, the keyless path of "Try it without an API key". Only the gateway's
 * address is changed (the README's `URL=http://localhost:8787`).
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server";
import type { FakeModelServer } from "./fakes/model-script";
import { startFakeOpenAI } from "./fakes/openai";
import { type Harness, createHarness } from "./helpers/harness";

/** The shell blocks of one README section, in order. */
function shellBlocksOf(readme: string, heading: string): string[] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README has no "## ${heading}" section`);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```(?:sh|bash)\n([\s\S]*?)```/g)].map((m) => m[1]);
}

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

describe("README: First steps", () => {
  let fake: FakeModelServer;
  let h: Harness;
  let server: RunningServer;
  let dir: string;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ models: [{ id: "llama3.2:latest" }] });
    // Remember → a memory_write call, then an answer; anything else → an answer from what it was told.
    fake.setFallback((body) => {
      const last = body.messages.at(-1);
      if (last.role === "tool") return { text: "Noted: teal." };
      // The message is last in the content (the memory matched to it comes first).
      if (/Remember[^\n]*$/.test(String(last.content))) return { toolCalls: [{ name: "memory_write", input: { content: "Favourite colour: teal" } }] };
      return { text: "Your favourite colour is teal." };
    });
    h = await createHarness({ OPENAI_BASE_URL: fake.url });
    server = await h.listen();
    dir = mkdtempSync(join(tmpdir(), "openpaw-readme-"));
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("has its tools: bash, curl and jq", () => {
    for (const tool of ["bash", "curl", "jq"]) expect(has(tool), `${tool} is needed to run the README walkthrough (apt-get install ${tool})`).toBe(true);
  });

  it("runs as written: signup, key, agent, a streamed chat, a second turn, usage", async () => {
    const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");
    const blocks = shellBlocksOf(readme, "First steps");
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    const script = blocks.join("\n");
    expect(script).toContain("URL=http://localhost:8787");
    const pointed = script.replace("URL=http://localhost:8787", `URL=${server.url}`);
    // Asynchronously: the gateway answering the script runs in this process.
    const { stdout } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", pointed], { cwd: dir, encoding: "utf8", timeout: 60_000 });

    expect(stdout).toMatch(/^org org_\w+$/m);
    expect(stdout).toMatch(/^agent ag_\w+ on llama3\.2:latest$/m);
    // Two streamed chats, each ending with done; the first ran the tool.
    expect(stdout.match(/^event: done$/gm)).toHaveLength(2);
    expect(stdout).toContain("event: tool_start");
    const streamed = [...stdout.matchAll(/^event: text\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]).text).join("");
    expect(streamed).toBe("Noted: teal.Your favourite colour is teal.");
    // The second turn continued the conversation: the model saw the first.
    const second = fake.requests.at(-1)?.body;
    expect(JSON.stringify(second.messages)).toContain("Remember that my favourite colour is teal.");
    // The usage summary at the end.
    const totals = JSON.parse(stdout.slice(stdout.lastIndexOf("{")));
    expect(totals).toMatchObject({ runs: 2 });
    expect(totals.tokens).toBeGreaterThan(0);
  });
});
