import { readdirSync, readFileSync } from "node:fs";
import { lstat, mkdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasBwrap, tempDataDir } from "../../../test/fakes/sandbox-env";
import { createWorkspaceFiles } from "./files";
import { WorkspaceError } from "./types";

let env: Awaited<ReturnType<typeof tempDataDir>>;
let files: ReturnType<typeof createWorkspaceFiles>;
let rootA: string;
let rootB: string;
const QUOTA = 4096;

beforeAll(async () => {
  if (!hasBwrap) return;
  env = await tempDataDir();
  files = createWorkspaceFiles({ dataDir: env.dir, quotaBytes: () => QUOTA, maxFileBytes: 3000 });
  rootA = await files.ensureRoot("org_a");
  rootB = await files.ensureRoot("org_b");
  await writeFile(join(rootB, "secret.txt"), "org b secret");
  await writeFile(join(env.dir, "openpaw.db"), "gateway data");
  await writeFile(join(rootA, "real.txt"), "inside");
  await mkdir(join(rootA, "dir"));
  // Links an exec command could plant: out of the workspace, and inside it.
  await symlink("/etc/passwd", join(rootA, "abs-out"));
  await symlink("../../openpaw.db", join(rootA, "rel-out"));
  await symlink(rootB, join(rootA, "other-org"));
  await symlink("/etc", join(rootA, "etc-dir"));
  await symlink("/workspace/real.txt", join(rootA, "abs-in"));
  await symlink("dir/../real.txt", join(rootA, "rel-in"));
  await symlink("loop", join(rootA, "loop"));
  await symlink("/tmp/openpaw-created-outside", join(rootA, "dangling-out"));
});

afterAll(async () => {
  await files?.close();
  await env?.cleanup();
});

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

async function refusedCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(WorkspaceError);
    return (error as WorkspaceError).code;
  }
  throw new Error("expected a refusal");
}

describe.skipIf(!hasBwrap)("workspace path rules", () => {
  const traversal: [string, string][] = [
    ["parent", "../org_b/secret.txt"],
    ["double parent", "../../openpaw.db"],
    ["bare ..", ".."],
    ["inner .. climbing out", "dir/../../org_b/secret.txt"],
    ["inner .. staying in", "dir/../real.txt"],
    ["absolute host file", "/etc/passwd"],
    ["absolute root", "/"],
    ["absolute /workspace/..", "/workspace/../etc/passwd"],
    ["prefix look-alike", "/workspaceevil/x"],
    ["absolute host path of the workspace", "<HOST_ROOT>/real.txt"],
    ["absolute tmp", "/tmp/x"],
    ["NUL byte", "real.txt\0.png"],
    ["empty", ""],
    ["blank", "   "],
    ["symlink to /etc/passwd", "abs-out"],
    ["relative symlink out", "rel-out"],
    ["symlink to other org", "other-org/secret.txt"],
    ["symlinked directory out", "etc-dir/passwd"],
    ["symlink loop", "loop"],
    ["dangling symlink out", "dangling-out"],
    ["over-long segment", `${"a".repeat(300)}.txt`],
  ];

  const real = (path: string) => path.replace("<HOST_ROOT>", rootA);

  it.each(traversal)("read refuses %s (%j)", async (_label, path) => {
    expect(await refusedCode(files.read("org_a", real(path)))).toBe("invalid_path");
  });

  it.each(traversal)("write refuses %s (%j)", async (_label, path) => {
    expect(await refusedCode(files.write("org_a", real(path), bytes("pwned")))).toBe("invalid_path");
  });

  it("left everything outside untouched", async () => {
    expect(await readFile(join(rootB, "secret.txt"), "utf8")).toBe("org b secret");
    expect(await readFile(join(env.dir, "openpaw.db"), "utf8")).toBe("gateway data");
    await expect(stat("/tmp/openpaw-created-outside")).rejects.toThrow();
    expect(await readFile("/etc/passwd", "utf8")).not.toContain("pwned");
  });

  it("follows symlinks that stay inside, in the sandbox's view", async () => {
    expect(text(await files.read("org_a", "abs-in"))).toBe("inside");
    expect(text(await files.read("org_a", "rel-in"))).toBe("inside");
    expect(text(await files.read("org_a", "/workspace/real.txt"))).toBe("inside");
    expect(text(await files.read("org_a", "./real.txt"))).toBe("inside");
  });

  it("rejects invalid org ids", async () => {
    expect(await refusedCode(files.read("../org_b", "secret.txt"))).toBe("invalid_path");
  });
});

describe.skipIf(!hasBwrap)("workspace files", () => {
  it("writes, appends, lists, reads and deletes", async () => {
    const created = await files.write("org_a", "/workspace/notes/today.md", bytes("hello"));
    expect(created).toEqual({ path: "/workspace/notes/today.md", size: 5, created: true });
    const appended = await files.write("org_a", "notes/today.md", bytes(" world"), { append: true });
    expect(appended).toMatchObject({ size: 11, created: false });
    expect(text(await files.read("org_a", "notes/today.md"))).toBe("hello world");
    const listing = await files.list("org_a", "notes");
    expect(listing).toEqual([expect.objectContaining({ name: "today.md", path: "/workspace/notes/today.md", type: "file", size: 11 })]);
    const root = await files.list("org_a");
    expect(root.find((entry) => entry.name === "abs-out")?.type).toBe("symlink");
    expect(await refusedCode(files.delete("org_a", "notes"))).toBe("not_empty");
    await files.delete("org_a", "notes/today.md");
    await files.delete("org_a", "notes");
    expect(await refusedCode(files.read("org_a", "notes/today.md"))).toBe("not_found");
    expect(await refusedCode(files.delete("org_a", "/workspace"))).toBe("invalid_path");
  });

  it("deletes a symlink, never its target", async () => {
    await symlink("/etc/hostname", join(rootA, "to-delete"));
    await files.delete("org_a", "to-delete");
    await expect(stat("/etc/hostname")).resolves.toBeTruthy();
  });

  it("refuses reading a directory and writing over one", async () => {
    expect(await refusedCode(files.read("org_a", "dir"))).toBe("not_a_file");
    expect(await refusedCode(files.write("org_a", "dir", bytes("x")))).toBe("not_a_file");
  });

  it("refuses a write that would pass the quota, with a clear message", async () => {
    const usage = await files.usage("org_a");
    expect(usage.quotaBytes).toBe(QUOTA);
    await files.write("org_a", "big1.bin", new Uint8Array(2500));
    let message = "";
    try {
      await files.write("org_a", "big2.bin", new Uint8Array(2500));
    } catch (error) {
      message = (error as Error).message;
      expect((error as WorkspaceError).code).toBe("quota_exceeded");
    }
    expect(message).toMatch(/workspace quota exceeded: writing \/workspace\/big2.bin needs 2500 more bytes/);
    expect(message).toContain(`of ${QUOTA} bytes are used`);
    // The refused file is not left behind, and replacing a file by a smaller one still works.
    expect(await refusedCode(files.read("org_a", "big2.bin"))).toBe("not_found");
    await files.write("org_a", "big1.bin", bytes("small"));
    await files.delete("org_a", "big1.bin");
  });

  it("refuses a file over the size cap", async () => {
    expect(await refusedCode(files.write("org_a", "huge.bin", new Uint8Array(3001)))).toBe("too_large");
  });

  it("keeps orgs apart", async () => {
    await files.write("org_b", "mine.txt", bytes("b"));
    expect(await refusedCode(files.read("org_a", "mine.txt"))).toBe("not_found");
    expect(text(await files.read("org_b", "secret.txt"))).toBe("org b secret");
  });
});

const isRoot = process.getuid?.() === 0;

describe.skipIf(!hasBwrap)("the workspace helper", () => {
  it.skipIf(!isRoot)("does the file work as the sandbox's user, never with the gateway's rights", async () => {
    await writeFile(join(rootA, "root-only.txt"), "the gateway's", { mode: 0o600 });
    const code = await refusedCode(files.read("org_a", "root-only.txt"));
    expect(code).toBe("permission_denied");
    await files.write("org_a", "made-by-api.txt", bytes("x"));
    expect((await lstat(join(rootA, "made-by-api.txt"))).uid).toBe(65534);
    expect((await stat(rootA)).uid).toBe(65534);
    expect((await stat(rootA)).mode & 0o777).toBe(0o700);
    // The data directory: traversable by the sandbox's user, not listable.
    expect((await stat(env.dir)).mode & 0o777).toBe(0o711);
    expect((await stat(join(env.dir, "workspaces"))).mode & 0o777).toBe(0o711);
  });

  it("is replaced after it dies, and its death is a 503-type refusal, not a crash", async () => {
    await files.write("org_a", "survivor.txt", bytes("still here"));
    const pids = helperPids("org_a");
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) process.kill(pid, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(text(await files.read("org_a", "survivor.txt"))).toBe("still here");
    expect(helperPids("org_a").some((pid) => !pids.includes(pid))).toBe(true);
  });

  it("reports a sandbox that cannot start as unavailable, naming why", async () => {
    const broken = createWorkspaceFiles({ dataDir: env.dir, quotaBytes: () => QUOTA, bwrapPath: "/nonexistent/bwrap" });
    try {
      const error = await broken.read("org_a", "real.txt").catch((caught) => caught);
      expect(error).toBeInstanceOf(WorkspaceError);
      expect(error).toMatchObject({ code: "unavailable", message: expect.stringMatching(/nonexistent\/bwrap/) });
    } finally {
      await broken.close();
    }
  });
});

/** Host pids of the bwrap processes serving an org's files (bwrap's environment names the org). */
function helperPids(orgId: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    try {
      const environ = readFileSync(`/proc/${name}/environ`, "utf8").split("\0");
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8");
      if (environ.includes(`OPENPAW_SANDBOX_ORG=${orgId}`) && cmdline.includes("workspace-helper")) pids.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}
