import type { ChildProcess } from "node:child_process";
import { constants } from "node:fs";
import { mkdir, open, realpath, rm } from "node:fs/promises";
import type { Socket } from "node:net";
import { killSandbox, nodeBinary, prepareSandboxDirs, type SandboxUser, sandboxUserFor, spawnSandboxed, withLimits } from "./bwrap";
import { encodeFrame, type Frame, FrameReader } from "./frames";
import { displayPath, parseWorkspacePath, WORKSPACE_MOUNT, workspaceDir } from "./paths";
import { sandboxProgram } from "./programs";
import { WorkspaceError, type WorkspaceErrorCode, type WorkspaceFiles } from "./types";
import type { HelperReply, HelperRequest } from "./workspace-helper";

export interface WorkspaceFilesOptions {
  dataDir: string;
  /** The plan's quota of an org, in bytes (apparent file sizes, like `du --apparent-size`). */
  quotaBytes(orgId: string): number | Promise<number>;
  /** Largest file one read returns and one write accepts (default 10 MiB). */
  maxFileBytes?: number;
  /**
   * Host user the file work runs as: the sandbox's own (default sandboxUserFor(the gateway's uid),
   * i.e. nobody when the gateway is root), so files the API creates belong to the org's commands too.
   */
  runAs?: SandboxUser;
  /** Former name of `runAs`. */
  owner?: SandboxUser;
  bwrapPath?: string;
  prlimitPath?: string;
  /** Helpers kept running per gateway (default 8; one per org) and how long an idle one stays (default 30 s). */
  maxHelpers?: number;
  idleMs?: number;
  /** Longest one operation may take before its helper is stopped (default 60 s). */
  timeoutMs?: number;
}

/** Where the helper program is inside its sandbox (a file from memory, see bwrap.ts). */
const HELPER_PATH = "/opt/openpaw/workspace-helper.mjs";
/** Room for an operation's JSON header (a listing) next to the largest payload. */
const HEADER_ROOM = 64 * 1024 * 1024;
const STDERR_KEPT = 4096;
const CODES = new Set<WorkspaceErrorCode>([
  "invalid_path",
  "not_found",
  "not_a_file",
  "not_empty",
  "too_large",
  "quota_exceeded",
  "changed",
  "permission_denied",
  "unavailable",
]);

interface Helper {
  orgId: string;
  child: ChildProcess;
  pending: Map<number, { resolve(frame: Frame): void; reject(error: Error): void; timer: NodeJS.Timeout }>;
  lastUsed: number;
  idle?: NodeJS.Timeout;
  stderr: string;
  /** Takes no new requests (idle, evicted, or shutting down). */
  retired: boolean;
  exited: boolean;
}

/**
 * The files of org workspaces on this host, with the workspace path rules and the quota.
 *
 * The work itself is done by the workspace helper (workspace-helper.ts), one per org, running in
 * a sandbox over that org's workspace as the sandbox's own user: an exec command of the same org
 * may change any path at any moment, and whatever such a race makes the helper do, it does with
 * the org's rights and in the org's mount namespace, never with the gateway's (which may be root)
 * nor on the host's file system. The gateway only creates the workspace directory itself, under
 * a parent no sandbox can see. See docs/sandbox.md, "Workspace file operations".
 */
export function createWorkspaceFiles(options: WorkspaceFilesOptions): WorkspaceFiles & {
  /** Host directory of the org's workspace, created (owned by the sandbox's user) on first use. */
  ensureRoot(orgId: string): Promise<string>;
  /** Stops every helper (gateway shutdown). */
  close(): Promise<void>;
} {
  const maxFileBytes = options.maxFileBytes ?? 10 * 1024 * 1024;
  const runAs = options.runAs ?? options.owner ?? sandboxUserFor(process.getuid?.() ?? -1);
  const bwrapPath = options.bwrapPath ?? "/usr/bin/bwrap";
  const prlimitPath = options.prlimitPath ?? "/usr/bin/prlimit";
  const maxHelpers = Math.max(1, options.maxHelpers ?? 8);
  const idleMs = options.idleMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const helpers = new Map<string, Promise<Helper>>();
  const live = new Set<Helper>();
  const locks = new Map<string, Promise<unknown>>();
  let nextId = 0;
  let dirsReady: Promise<void> | undefined;
  let closed = false;

  /** The data directory and its `workspaces` directory, once (see prepareSandboxDirs). */
  function prepareDirs(): Promise<void> {
    dirsReady ??= prepareSandboxDirs(options.dataDir, runAs, ["workspaces"]).catch((error) => {
      dirsReady = undefined;
      throw error;
    });
    return dirsReady;
  }

  async function ensureRoot(orgId: string): Promise<string> {
    const dir = workspaceDir(options.dataDir, orgId);
    await prepareDirs();
    // 0700: on the host, one org's sandbox user has no business in another org's files.
    await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    if (runAs) {
      // By descriptor, never by path: the parent is the gateway's, but a path is followed, a descriptor is what it is.
      const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      try {
        const current = await handle.stat();
        if (current.uid !== runAs.uid || current.gid !== runAs.gid) await handle.chown(runAs.uid, runAs.gid);
      } finally {
        await handle.close();
      }
    }
    return realpath(dir);
  }

  async function startHelper(orgId: string): Promise<Helper> {
    const [root, source] = await Promise.all([ensureRoot(orgId), sandboxProgram("workspace-helper")]);
    if (closed) throw new WorkspaceError("unavailable", "the workspace service is shutting down");
    retireIdleBeyond(maxHelpers - 1);
    const command = withLimits(
      prlimitPath,
      // One descriptor per directory level while measuring; files it writes are bounded by the file limit.
      // No address-space limit: V8's reservations vary with garbage collection and made it abort at
      // random; its memory is bounded by the heap flag below and by the largest frame.
      { processes: 64, fileBytes: maxFileBytes, openFiles: 4096 },
      [nodeBinary().path, "--max-old-space-size=256", HELPER_PATH],
    );
    const layout = {
      workspace: root,
      chdir: WORKSPACE_MOUNT,
      files: [{ dest: HELPER_PATH, content: source }],
      env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" },
      tmpBytes: 1024 * 1024,
      shmBytes: 1024 * 1024,
    };
    const child = spawnSandboxed(command, layout, { bwrapPath, runAs, stdin: "pipe", env: { OPENPAW_SANDBOX_ORG: orgId } });
    const helper: Helper = { orgId, child, pending: new Map(), lastUsed: Date.now(), stderr: "", retired: false, exited: false };
    live.add(helper);
    const reader = new FrameReader(maxFileBytes + HEADER_ROOM);
    child.stdout?.on("data", (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = reader.push(chunk);
      } catch (error) {
        stop(helper, new WorkspaceError("unavailable", `the workspace helper answered garbage: ${(error as Error).message}`));
        return;
      }
      for (const frame of frames) {
        const waiter = helper.pending.get(frame.header.id as number);
        if (!waiter) continue;
        helper.pending.delete(frame.header.id as number);
        clearTimeout(waiter.timer);
        waiter.resolve(frame);
      }
      if (helper.pending.size === 0) idle(helper);
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      helper.stderr = (helper.stderr + chunk.toString("utf8")).slice(-STDERR_KEPT);
    });
    child.stdin?.on("error", () => undefined);
    const onGone = () => {
      if (helper.exited) return;
      helper.exited = true;
      helper.retired = true;
      live.delete(helper);
      clearTimeout(helper.idle);
      // Node prints a fatal error first and its native stack after: the first line says why.
      const detail = helper.stderr
        .split("\n")
        .find((line) => /[a-z]/i.test(line))
        ?.trim();
      const error = new WorkspaceError(
        "unavailable",
        `the workspace is unavailable: its sandbox stopped${detail ? ` (${detail.slice(0, 300)})` : ""}`,
      );
      for (const waiter of helper.pending.values()) {
        clearTimeout(waiter.timer);
        waiter.reject(error);
      }
      helper.pending.clear();
    };
    child.on("close", onGone);
    child.on("error", onGone);
    idle(helper);
    return helper;
  }

  function helperFor(orgId: string): Promise<Helper> {
    const existing = helpers.get(orgId);
    if (existing) {
      return existing.then((helper) => {
        if (!helper.retired) return helper;
        if (helpers.get(orgId) === existing) helpers.delete(orgId);
        return helperFor(orgId);
      });
    }
    const started = startHelper(orgId);
    helpers.set(orgId, started);
    started.catch(() => {
      if (helpers.get(orgId) === started) helpers.delete(orgId);
    });
    return started;
  }

  /** With nothing in flight a helper does not keep the gateway alive, and goes after `idleMs`. */
  function idle(helper: Helper): void {
    clearTimeout(helper.idle);
    setReferenced(helper, false);
    helper.idle = setTimeout(() => retire(helper), idleMs);
    helper.idle.unref();
  }

  function setReferenced(helper: Helper, on: boolean): void {
    for (const handle of [helper.child, helper.child.stdin, helper.child.stdout, helper.child.stderr] as Array<
      ChildProcess | Socket | null
    >) {
      if (on) handle?.ref?.();
      else handle?.unref?.();
    }
  }

  /** Lets a helper finish what it was asked, then go (it exits when its stdin ends). */
  function retire(helper: Helper): void {
    const entry = helpers.get(helper.orgId);
    void entry?.then((current) => {
      if (current === helper && helpers.get(helper.orgId) === entry) helpers.delete(helper.orgId);
    });
    // At once, so that no new request is sent to a helper whose stdin is ending.
    helper.retired = true;
    clearTimeout(helper.idle);
    helper.child.stdin?.end();
    setTimeout(() => killSandbox(helper.child), 5000).unref();
  }

  function retireIdleBeyond(keep: number): void {
    const serving = [...live].filter((helper) => !helper.retired);
    const idleOnes = serving.filter((helper) => helper.pending.size === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const helper of idleOnes.slice(0, Math.max(0, serving.length - keep))) retire(helper);
  }

  function stop(helper: Helper, error: WorkspaceError): void {
    for (const waiter of helper.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    helper.pending.clear();
    killSandbox(helper.child);
  }

  /** One operation through the org's helper; refusals come back as WorkspaceErrors. */
  async function call(
    orgId: string,
    request: HelperRequest,
    payload?: Uint8Array,
  ): Promise<{ reply: HelperReply & { ok: true }; payload: Buffer }> {
    if (closed) throw new WorkspaceError("unavailable", "the workspace service is shutting down");
    let helper: Helper;
    try {
      helper = await helperFor(orgId);
    } catch (error) {
      if (error instanceof WorkspaceError) throw error;
      throw new WorkspaceError("unavailable", `the workspace is unavailable: ${(error as Error).message}`);
    }
    const id = ++nextId;
    const frame = await new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(
        () => stop(helper, new WorkspaceError("unavailable", `the workspace operation took longer than ${timeoutMs} ms`)),
        timeoutMs,
      );
      helper.pending.set(id, { resolve, reject, timer });
      helper.lastUsed = Date.now();
      clearTimeout(helper.idle);
      setReferenced(helper, true);
      for (const part of encodeFrame({ id, ...request }, payload)) helper.child.stdin?.write(part);
    });
    const reply = frame.header as unknown as HelperReply;
    if (!reply.ok) {
      if (CODES.has(reply.code as WorkspaceErrorCode)) throw new WorkspaceError(reply.code as WorkspaceErrorCode, reply.message);
      throw new Error(`the workspace helper failed: ${reply.message}`);
    }
    return { reply, payload: frame.payload };
  }

  /** Serialises writes of one org so that two cannot both pass the quota check. */
  function withLock<T>(orgId: string, task: () => Promise<T>): Promise<T> {
    const previous = locks.get(orgId) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => undefined);
    locks.set(orgId, settled);
    void settled.then(() => {
      if (locks.get(orgId) === settled) locks.delete(orgId);
    });
    return next;
  }

  async function usage(orgId: string) {
    const [{ reply }, quotaBytes] = await Promise.all([call(orgId, { op: "usage" }), options.quotaBytes(orgId)]);
    return { usedBytes: reply.usedBytes ?? 0, quotaBytes };
  }

  return {
    ensureRoot,

    async list(orgId, path = WORKSPACE_MOUNT) {
      const { reply } = await call(orgId, { op: "list", segments: parseWorkspacePath(path) });
      return reply.entries ?? [];
    },

    async read(orgId, path, readOptions) {
      const maxBytes = Math.min(readOptions?.maxBytes ?? maxFileBytes, maxFileBytes);
      const { payload } = await call(orgId, { op: "read", segments: parseWorkspacePath(path), maxBytes });
      // A copy of its own: the frame's bytes may share a buffer with the next frame.
      return new Uint8Array(payload);
    },

    async write(orgId, path, data, writeOptions) {
      const segments = parseWorkspacePath(path);
      if (segments.length === 0) throw new WorkspaceError("not_a_file", `${WORKSPACE_MOUNT} is a directory`);
      if (data.byteLength > maxFileBytes) {
        throw new WorkspaceError(
          "too_large",
          `${displayPath(segments)} would be ${data.byteLength} bytes, over the ${maxFileBytes}-byte file limit`,
        );
      }
      return withLock(orgId, async () => {
        const quotaBytes = await options.quotaBytes(orgId);
        const request = { op: "write" as const, segments, append: writeOptions?.append === true, maxFileBytes, quotaBytes };
        const { reply } = await call(orgId, request, data);
        return reply.written as { path: string; size: number; created: boolean };
      });
    },

    async delete(orgId, path) {
      await withLock(orgId, () => call(orgId, { op: "delete", segments: parseWorkspacePath(path) }));
    },

    usage,

    async removeWorkspace(orgId) {
      // Under the org's write lock, so no write of the org lands in a directory being removed;
      // the org's helper goes first (it has the workspace mounted). rm does not follow symlinks:
      // one pointing out of the workspace goes, its target stays.
      await withLock(orgId, async () => {
        const helper = await helpers.get(orgId)?.catch(() => undefined);
        if (helper) retire(helper);
        await rm(workspaceDir(options.dataDir, orgId), { recursive: true, force: true });
      });
    },

    async close() {
      closed = true;
      const all = [...live];
      for (const helper of all) {
        helper.retired = true;
        clearTimeout(helper.idle);
        helper.child.stdin?.end();
      }
      await Promise.all(
        all.map(
          (helper) =>
            new Promise<void>((resolve) => {
              if (helper.exited) return resolve();
              const timer = setTimeout(() => killSandbox(helper.child), 2000);
              helper.child.once("close", () => {
                clearTimeout(timer);
                resolve();
              });
            }),
        ),
      );
      helpers.clear();
    },
  };
}
