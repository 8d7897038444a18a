import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasBwrap, tempDataDir } from "../../../test/fakes/sandbox-env";
import { createBubblewrapBackend, sandboxOwnerFor } from "../sandbox/bubblewrap";
import { createWorkspaceFiles } from "../sandbox/files";
import { createSandboxPool, type SandboxPool } from "../sandbox/pool";
import { createSandboxTools } from "../sandbox/tools";
import type { ExecResult } from "../sandbox/types";
import { createExecTool, formatExecResult } from "./exec";
import type { ToolContext, ToolDefinition, ToolOutput } from "./types";

const owner = sandboxOwnerFor(process.getuid?.() ?? 1000);
const context = (orgId: string): ToolContext => ({
  orgId,
  agentId: "ag_1",
  runId: "run_1",
  conversationId: "conv_1",
  signal: new AbortController().signal,
});

async function call(tool: ToolDefinition<any>, input: unknown, orgId = "org_a"): Promise<ToolOutput> {
  const out = await tool.execute(tool.input.parse(input), context(orgId));
  return typeof out === "string" ? { content: out } : out;
}

describe("formatExecResult", () => {
  const base: ExecResult = {
    exitCode: 0,
    signal: null,
    stdout: "",
    stderr: "",
    stdoutBytes: 0,
    stderrBytes: 0,
    killed: null,
    durationMs: 5,
  };

  it("cuts each stream at the character cap with a note", () => {
    const text = formatExecResult({ ...base, stdout: "x".repeat(50), stdoutBytes: 80 }, 20, 30);
    expect(text).toContain(`stdout:\n${"x".repeat(20)}\n[stdout cut: showing the first 20 characters of 80 bytes]`);
    expect(text).toContain("stderr: (empty)");
  });

  it("says when the command was killed", () => {
    expect(formatExecResult({ ...base, exitCode: null, killed: "timeout" }, 20, 7)).toMatch(/^Killed: the command timed out after 7 s/);
    expect(formatExecResult({ ...base, exitCode: 153, signal: "SIGXFSZ" }, 20, 7)).toContain("file size limit or workspace quota");
  });
});

describe.skipIf(!hasBwrap)("exec, read_file and write_file in the sandbox", () => {
  let env: Awaited<ReturnType<typeof tempDataDir>>;
  let pool: SandboxPool;
  let tools: Record<string, ToolDefinition<any>>;

  beforeAll(async () => {
    env = await tempDataDir();
    const files = createWorkspaceFiles({ dataDir: env.dir, quotaBytes: () => 1024 * 1024, owner });
    const backend = createBubblewrapBackend({ dataDir: env.dir, workspaces: files, runAs: owner });
    pool = createSandboxPool({ backend, maxLive: 2 });
    const made = await createSandboxTools({ backend, sandbox: pool, files, exec: { maxOutputChars: 500 } });
    expect(made.unavailable).toEqual([]);
    tools = Object.fromEntries(made.tools.map((tool) => [tool.name, tool]));
  });

  afterAll(async () => {
    await pool?.close();
    await env?.cleanup();
  });

  it("offers the three tools at the pro tier", () => {
    expect(Object.keys(tools).sort()).toEqual(["exec", "read_file", "write_file"]);
    expect(Object.values(tools).map((tool) => tool.tier)).toEqual(["pro", "pro", "pro"]);
  });

  it("writes a script, runs it with python3 and node, and reads what they wrote", async () => {
    expect(
      (await call(tools.write_file, { path: "calc.py", content: "open('out.txt','w').write(str(sum(range(101))))\n" })).content,
    ).toMatch(/^Created \/workspace\/calc.py/);
    await call(tools.write_file, {
      path: "/workspace/js/calc.mjs",
      content: "import fs from 'node:fs';\nfs.appendFileSync('out.txt', ' ' + 6*7);\n",
    });
    const ran = await call(tools.exec, { command: "python3 calc.py && node js/calc.mjs && ls -l out.txt" });
    expect(ran.isError).toBe(false);
    expect(ran.content).toMatch(/^Exit code: 0/);
    expect(ran.content).toContain("out.txt");
    expect((await call(tools.read_file, { path: "out.txt" })).content).toBe("     1\t5050 42");
  });

  it("reports a failing command as an error with its stderr", async () => {
    const out = await call(tools.exec, { command: "echo oops >&2; exit 4" });
    expect(out).toEqual({ isError: true, content: "Exit code: 4\n\nstdout: (empty)\n\nstderr:\noops\n" });
  });

  it("caps the output shown to the model", async () => {
    const out = await call(tools.exec, { command: "seq 1 100000" });
    expect(out.content).toMatch(/\[stdout cut: showing the first 500 characters of 588895 bytes\]/);
  });

  it("kills a command at its timeout", async () => {
    const started = Date.now();
    const out = await call(tools.exec, { command: "sleep 60", timeoutSeconds: 1 });
    expect(out.isError).toBe(true);
    expect(out.content).toMatch(/^Killed: the command timed out after 1 s/);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it("keeps orgs' workspaces apart", async () => {
    await call(tools.write_file, { path: "mine.txt", content: "org b" }, "org_b");
    const out = await call(tools.exec, { command: "cat mine.txt" }, "org_a");
    expect(out.content).toContain("No such file");
    expect((await call(tools.read_file, { path: "mine.txt" }, "org_b")).content).toBe("     1\torg b");
  });

  it("refuses write_file over the quota and shows the reason", async () => {
    const out = await call(tools.write_file, { path: "big.txt", content: "x".repeat(1024 * 1024) });
    expect(out.isError).toBe(true);
    expect(out.content).toMatch(/^Refused: workspace quota exceeded/);
  });
});

describe("createSandboxTools without a working sandbox", () => {
  it("reports the three tools unavailable with the probe's reason", async () => {
    const env = await tempDataDir();
    try {
      const files = createWorkspaceFiles({ dataDir: env.dir, quotaBytes: () => 1000 });
      const backend = createBubblewrapBackend({ dataDir: env.dir, workspaces: files, bwrapPath: "/nonexistent/bwrap" });
      const made = await createSandboxTools({ backend, sandbox: createSandboxPool({ backend }), files });
      expect(made.tools).toEqual([]);
      expect(made.unavailable.map((tool) => tool.name)).toEqual(["exec", "read_file", "write_file"]);
      expect(made.unavailable[0].reason).toMatch(/bubblewrap cannot start a sandbox/);
    } finally {
      await env.cleanup();
    }
  });

  it("exposes the tool with its limits", () => {
    const tool = createExecTool({ sandbox: { exec: () => Promise.reject(new Error("unused")) } });
    expect(tool.input.safeParse({ command: "" }).success).toBe(false);
    expect(tool.timeoutMs).toBe(150_000);
  });
});
