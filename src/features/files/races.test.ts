import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasBwrap } from "../../../test/fakes/sandbox-env";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { workspaceDir } from "../../runtime/sandbox/paths";
import type { ToolDefinition } from "../../runtime/tools/types";

/**
 * A command of the org runs in its sandbox while the files API works on the same workspace: the
 * attacks of issue 21, each for a few hundred requests. What must hold, every time: nothing
 * outside the workspace is changed, read or measured, and every answer is a 2xx or a 4xx.
 */
const ITERATIONS = 300;
const MAX_DOWNLOAD = 1024 * 1024;
const octet = { "content-type": "application/octet-stream" };

describe.skipIf(!hasBwrap)("a command racing the files API on the same workspace", () => {
  let h: Harness;
  let org: Account;
  let key: string;
  let root: string;
  let exec: ToolDefinition<any>;
  let hostDir: string;

  beforeAll(async () => {
    h = await createHarness({ OPENPAW_DEFAULT_PLAN: "pro", OPENPAW_MAX_UPLOAD_BYTES: String(MAX_DOWNLOAD) });
    org = await h.signup({ orgName: "Racer" });
    key = (await h.createKey(org, { scopes: ["admin"] })).key;
    [exec] = h.services.tools.forRun(["exec"], "pro");
    expect(exec?.name).toBe("exec");
    root = workspaceDir(h.config.dataDir, org.orgId);
    // Host places the tenant must never reach: owned by the gateway's user, private.
    hostDir = mkdtempSync(join(tmpdir(), "openpaw-host-"));
  });
  afterAll(async () => {
    await h?.close();
    rmSync(hostDir, { recursive: true, force: true });
  });

  const url = (kind: "files" | "content", path?: string) =>
    `/v1/orgs/${org.orgId}/files${kind === "content" ? "/content" : ""}${path === undefined ? "" : `?path=${encodeURIComponent(path)}`}`;

  /** Runs a Python loop in the org's sandbox until `body` is done; returns what the loop printed. */
  async function whileRacing(script: string, body: () => Promise<void>): Promise<string> {
    const program = `import os, sys, time, shutil, ctypes\nopen('ready', 'w').close()\ndeadline = time.time() + 90\nn = 0\nwhile not os.path.exists('stop') and time.time() < deadline:\n  for _ in range(50):\n${script
      .trim()
      .split("\n")
      .map((line) => `    ${line}`)
      .join("\n")}\n    n += 1\nprint('iterations', n)\n`;
    writeFileSync(join(hostDir, "race.py"), program);
    const upload = await h.request("PUT", url("content", "race.py"), { key, raw: program, headers: octet });
    expect(upload.status).toBeLessThan(300);
    const ctx = {
      orgId: org.orgId,
      agentId: "ag_race",
      runId: `run_race_${Date.now()}`,
      conversationId: "conv_race",
      signal: new AbortController().signal,
    };
    const running = exec.execute({ command: "python3 race.py", timeoutSeconds: 100 }, ctx);
    const deadline = Date.now() + 20_000;
    while (!existsSync(join(root, "ready")) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    try {
      await body();
    } finally {
      writeFileSync(join(root, "stop"), "");
    }
    const out = await running;
    const text = typeof out === "string" ? out : out.content;
    rmSync(join(root, "stop"), { force: true });
    rmSync(join(root, "ready"), { force: true });
    expect(text).toMatch(/iterations [1-9]/);
    return text;
  }

  /** Every status seen, so a failure shows what happened; 5xx answers are kept whole. No 5xx, ever. */
  function tally() {
    const counts: Record<number, number> = {};
    const serverErrors: string[] = [];
    return {
      counts,
      add<T extends { status: number; text: string }>(res: T): T {
        counts[res.status] = (counts[res.status] ?? 0) + 1;
        if (res.status >= 500) serverErrors.push(`${res.status} ${res.text}`);
        return res;
      },
      expectNoServerErrors() {
        expect(serverErrors, JSON.stringify(counts)).toEqual([]);
        return JSON.stringify(counts);
      },
    };
  }

  it("upload: a directory swapped for a symlink never makes the gateway change a host file or directory", async () => {
    const victimFile = join(hostDir, "victim-file");
    const victimDir = join(hostDir, "victim-dir");
    writeFileSync(victimFile, "host secret", { mode: 0o600 });
    mkdirSync(victimDir, { mode: 0o700 });
    const before = [lstatSync(victimFile), lstatSync(victimDir)].map((s) => [s.uid, s.gid, s.mode]);
    const seen = tally();
    await whileRacing(
      `
for target in (${JSON.stringify(victimFile)}, ${JSON.stringify(victimDir)}):
  try: os.symlink(target, 'race')
  except OSError: pass
  try: os.unlink('race')
  except OSError: shutil.rmtree('race', ignore_errors=True)
`,
      async () => {
        for (let i = 0; i < ITERATIONS; i++) {
          const path = i % 3 === 2 ? "race" : "race/f.txt";
          seen.add(await h.request("PUT", url("content", path), { key, raw: "x", headers: octet }));
        }
      },
    );
    const counts = seen.expectNoServerErrors();
    const after = [lstatSync(victimFile), lstatSync(victimDir)].map((s) => [s.uid, s.gid, s.mode]);
    expect(after, counts).toEqual(before);
    expect(readFileSync(victimFile, "utf8")).toBe("host secret");
    expect(readdirSync(victimDir)).toEqual([]);
  });

  it("download: a file resized between 1 byte and 8 MB is never returned past the download limit", async () => {
    const seen = tally();
    const sizes: number[] = [];
    await whileRacing(
      `
fd = os.open('grow.bin', os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 1)
os.ftruncate(fd, 8 * 1024 * 1024)
os.close(fd)
`,
      async () => {
        for (let i = 0; i < ITERATIONS; i++) {
          const res = seen.add(await h.request("GET", url("content", "grow.bin"), { key }));
          if (res.status === 200) sizes.push(Number(res.headers.get("content-length")));
          // read_file's own, smaller cap goes through the same code.
          const bytes = await h.services.files.read(org.orgId, "grow.bin", { maxBytes: 4096 }).catch(() => null);
          if (bytes) sizes.push(bytes.byteLength > 4096 ? bytes.byteLength : 0);
        }
      },
    );
    const counts = seen.expectNoServerErrors();
    expect(Math.max(0, ...sizes), counts).toBeLessThanOrEqual(MAX_DOWNLOAD);
    expect(
      Object.keys(seen.counts).every((status) => ["200", "413", "404"].includes(status)),
      counts,
    ).toBe(true);
    rmSync(join(root, "grow.bin"));
  });

  it("quota: a directory exchanged with a symlink never makes the gateway measure or list a host directory", async () => {
    writeFileSync(join(hostDir, "host-only-name.bin"), "");
    truncateSync(join(hostDir, "host-only-name.bin"), 1024 ** 4);
    const setup = await exec.execute(
      { command: `rm -rf d l grow.bin; mkdir d && printf 0123456789 > d/small.txt && ln -s ${hostDir} l` },
      { orgId: org.orgId, agentId: "ag_race", runId: "run_setup", conversationId: "conv_race", signal: new AbortController().signal },
    );
    expect(typeof setup === "string" ? setup : setup.content).toContain("Exit code: 0");
    const seen = tally();
    const used: number[] = [];
    const leaks: string[] = [];
    await whileRacing(
      `
libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2(-100, b'd', -100, b'l', 2)
`,
      async () => {
        for (let i = 0; i < ITERATIONS; i++) {
          const listing = seen.add(await h.request("GET", url("files"), { key }));
          if (listing.status === 200) used.push(listing.body.usage.bytes);
          if (i % 2 === 0) {
            const inner = seen.add(await h.request("GET", url("files", "d"), { key }));
            if (inner.text.includes("host-only-name")) leaks.push(inner.text);
          } else {
            // A write checks the quota, so it measures the workspace too.
            const put = seen.add(await h.request("PUT", url("content", `q${i % 5}.txt`), { key, raw: "y", headers: octet }));
            if (put.status === 413) leaks.push(put.text);
          }
        }
      },
    );
    const counts = seen.expectNoServerErrors();
    expect(leaks, counts).toEqual([]);
    // What the workspace really holds is a few KB (the script, small files); never the host's terabyte.
    expect(Math.max(...used)).toBeLessThan(1024 * 1024);
    expect(statSync(join(hostDir, "host-only-name.bin")).size).toBe(1024 ** 4);
  });

  it("delete: a directory swapped for a symlink never deletes outside, and never answers 5xx", async () => {
    const victimDir = join(hostDir, "victim-delete");
    mkdirSync(victimDir, { mode: 0o755 });
    writeFileSync(join(victimDir, "f.txt"), "host file");
    symlinkSync(victimDir, join(hostDir, "unused-link"));
    const seen = tally();
    await whileRacing(
      `
try:
  os.mkdir('race')
  open('race/f.txt', 'w').close()
except OSError: pass
shutil.rmtree('race', ignore_errors=True)
try: os.unlink('race')
except OSError: pass
try: os.symlink(${JSON.stringify(victimDir)}, 'race')
except OSError: pass
try: os.unlink('race')
except OSError: pass
`,
      async () => {
        for (let i = 0; i < ITERATIONS; i++) {
          const path = i % 2 === 0 ? "race/f.txt" : "race";
          seen.add(await h.request("DELETE", url("files", path), { key }));
        }
      },
    );
    seen.expectNoServerErrors();
    expect(readFileSync(join(victimDir, "f.txt"), "utf8")).toBe("host file");
    expect(lstatSync(join(hostDir, "unused-link")).isSymbolicLink()).toBe(true);
  });
});
