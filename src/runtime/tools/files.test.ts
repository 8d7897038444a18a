import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDataDir } from "../../../test/fakes/sandbox-env";
import { createWorkspaceFiles } from "../sandbox/files";
import { createReadFileTool, createWriteFileTool } from "./files";
import type { ToolDefinition, ToolOutput } from "./types";

let env: Awaited<ReturnType<typeof tempDataDir>>;
let readFile: ToolDefinition<any>;
let writeFile: ToolDefinition<any>;
let root: string;

beforeAll(async () => {
  env = await tempDataDir();
  const files = createWorkspaceFiles({ dataDir: env.dir, quotaBytes: () => 1024 * 1024 });
  root = await files.ensureRoot("org_a");
  readFile = createReadFileTool({ files, maxOutputChars: 2000, maxReadBytes: 100_000 });
  writeFile = createWriteFileTool({ files, maxWriteBytes: 50_000 });
});
afterAll(() => env.cleanup());

async function call(tool: ToolDefinition<any>, input: unknown): Promise<ToolOutput> {
  const ctx = { orgId: "org_a", agentId: "ag", runId: "run", conversationId: "conv", signal: new AbortController().signal };
  const out = await tool.execute(tool.input.parse(input), ctx);
  return typeof out === "string" ? { content: out } : out;
}

describe("read_file", () => {
  it("numbers lines like cat -n from a 1-based offset, with a limit", async () => {
    const lines = Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join("\n");
    await call(writeFile, { path: "ten.txt", content: `${lines}\n` });
    expect((await call(readFile, { path: "ten.txt", limit: 2 })).content).toBe(
      "     1\tline 1\n     2\tline 2\n[showing lines 1-2 of 10; read on with offset=3]",
    );
    expect((await call(readFile, { path: "/workspace/ten.txt", offset: 9 })).content).toBe("     9\tline 9\n    10\tline 10");
    expect(await call(readFile, { path: "ten.txt", offset: 11 })).toMatchObject({
      isError: true,
      content: expect.stringContaining("has only 10 lines"),
    });
  });

  it("defaults to 2000 lines and cuts long lines and long answers", async () => {
    await call(writeFile, { path: "many.txt", content: Array.from({ length: 2500 }, () => "a").join("\n") });
    const out = (await call(readFile, { path: "many.txt" })).content;
    expect(out).toMatch(/\[showing lines 1-\d+ of 2500; read on with offset=\d+\]$/);
    expect(out.length).toBeLessThan(2200);
    await call(writeFile, { path: "wide.txt", content: "w".repeat(3000) });
    expect((await call(readFile, { path: "wide.txt" })).content).toContain("[line cut at 2000 characters]");
  });

  it("refuses binary files, missing files, escapes and files over the cap", async () => {
    await call(writeFile, { path: "bin.dat", content: "a\u0000b" });
    expect((await call(readFile, { path: "bin.dat" })).content).toMatch(/looks binary/);
    expect(await call(readFile, { path: "nope.txt" })).toMatchObject({
      isError: true,
      content: expect.stringMatching(/^Refused: .*does not exist/),
    });
    await symlink("/etc/passwd", join(root, "pw"));
    expect(await call(readFile, { path: "pw" })).toMatchObject({ isError: true, content: expect.stringContaining("outside /workspace") });
    expect(await call(readFile, { path: "../../etc/passwd" })).toMatchObject({ isError: true });
    await call(writeFile, { path: "big.txt", content: "b".repeat(40_000) });
    await call(writeFile, { path: "big.txt", content: "b".repeat(40_000), append: true });
    await call(writeFile, { path: "big.txt", content: "b".repeat(40_000), append: true });
    expect((await call(readFile, { path: "big.txt" })).content).toMatch(/over the 100000-byte limit of one read \(use exec/);
  });
});

describe("write_file", () => {
  it("creates, replaces and appends", async () => {
    expect((await call(writeFile, { path: "a/b/c.txt", content: "one" })).content).toBe(
      "Created /workspace/a/b/c.txt: wrote 3 bytes; the file is now 3 bytes.",
    );
    expect((await call(writeFile, { path: "a/b/c.txt", content: "two" })).content).toMatch(/^Replaced/);
    expect((await call(writeFile, { path: "a/b/c.txt", content: "!", append: true })).content).toMatch(/^Appended to .* now 4 bytes/);
    expect((await call(readFile, { path: "a/b/c.txt" })).content).toBe("     1\ttwo!");
  });

  it("refuses content over its cap and paths outside the workspace", async () => {
    expect((await call(writeFile, { path: "x.txt", content: "x".repeat(50_001) })).content).toMatch(/over the 50000-byte limit/);
    expect(await call(writeFile, { path: "/etc/x", content: "x" })).toMatchObject({
      isError: true,
      content: expect.stringContaining("inside /workspace"),
    });
  });
});
