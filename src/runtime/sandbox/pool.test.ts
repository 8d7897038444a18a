import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { hasBwrap, tempDataDir } from "../../../test/fakes/sandbox-env";
import { createBubblewrapBackend, sandboxOwnerFor } from "./bubblewrap";
import { createWorkspaceFiles } from "./files";
import { createSandboxPool, type SandboxPool } from "./pool";
import type { SandboxBackend } from "./types";

const owner = sandboxOwnerFor(process.getuid?.() ?? 1000);

describe.skipIf(!hasBwrap)("sandbox pool over bubblewrap", () => {
  let env: Awaited<ReturnType<typeof tempDataDir>>;
  let backend: SandboxBackend;
  let pool: SandboxPool | undefined;

  beforeAll(async () => {
    env = await tempDataDir();
    const files = createWorkspaceFiles({ dataDir: env.dir, quotaBytes: () => 1024 * 1024, owner });
    backend = createBubblewrapBackend({ dataDir: env.dir, workspaces: files, runAs: owner });
    // Each org's file helper starts on first use (it measures the quota before a command): not what these tests time.
    await Promise.all(["org_a", "org_b", "org_c"].map((orgId) => files.usage(orgId)));
  });
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });
  afterAll(() => env.cleanup());

  const sleepy = (p: SandboxPool, orgId: string) => p.exec(orgId, { command: "sleep 0.6; date +%s%N", timeoutMs: 5000 });

  it("runs two orgs at the same time", async () => {
    pool = createSandboxPool({ backend, maxLive: 2 });
    const started = Date.now();
    const [a, b] = await Promise.all([sleepy(pool, "org_a"), sleepy(pool, "org_b")]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect(Date.now() - started).toBeLessThan(1100);
    expect(pool.stats()).toMatchObject({ live: 2, busy: 0, waiting: 0 });
  });

  it("runs one org's commands one after another", async () => {
    pool = createSandboxPool({ backend, maxLive: 2 });
    const started = Date.now();
    await Promise.all([sleepy(pool, "org_a"), sleepy(pool, "org_a")]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
  });

  it("queues an org beyond the live limit until a sandbox is free", async () => {
    pool = createSandboxPool({ backend, maxLive: 1 });
    const first = sleepy(pool, "org_a");
    const second = sleepy(pool, "org_b");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pool.stats()).toMatchObject({ live: 1, busy: 1, waiting: 1, orgs: ["org_a"] });
    const [a, b] = await Promise.all([first, second]);
    expect(BigInt(b.stdout.trim()) - BigInt(a.stdout.trim())).toBeGreaterThanOrEqual(500_000_000n);
    // org_b took the place of the idle org_a session.
    expect(pool.stats()).toMatchObject({ live: 1, orgs: ["org_b"] });
  });

  it("gives up waiting when the caller's signal aborts", async () => {
    pool = createSandboxPool({ backend, maxLive: 1 });
    const first = sleepy(pool, "org_a");
    const controller = new AbortController();
    const second = pool.exec("org_b", { command: "true", timeoutMs: 1000, signal: controller.signal });
    controller.abort();
    await expect(second).rejects.toThrow(/cancelled while waiting/);
    await first;
    expect(pool.stats().waiting).toBe(0);
  });

  it("puts idle sandboxes to sleep and wakes them on demand", async () => {
    pool = createSandboxPool({ backend, maxLive: 2, idleMs: 150 });
    await pool.exec("org_a", { command: "echo hi > note.txt", timeoutMs: 5000 });
    expect(pool.stats().live).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(pool.stats().live).toBe(0);
    // The workspace outlives the session.
    const again = await pool.exec("org_a", { command: "cat note.txt", timeoutMs: 5000 });
    expect(again.stdout).toBe("hi\n");
    expect(pool.stats().live).toBe(1);
  });

  it("refuses work after close", async () => {
    const closing = createSandboxPool({ backend });
    await closing.close();
    await expect(closing.exec("org_a", { command: "true", timeoutMs: 1000 })).rejects.toThrow(/closed/);
  });
});
