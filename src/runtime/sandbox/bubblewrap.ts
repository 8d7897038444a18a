import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { killSandbox, prepareSandboxDirs, type SandboxUser, sandboxUserFor, spawnSandboxed, withLimits } from "./bwrap";
import { WORKSPACE_MOUNT } from "./paths";
import {
  type ExecRequest,
  type ExecResult,
  type ProbeResult,
  type SandboxBackend,
  type SandboxSession,
  WorkspaceError,
  type WorkspaceUsage,
} from "./types";

/** Per-command resource limits, applied with prlimit inside the sandbox (so the sandbox cannot raise them). */
export interface SandboxLimits {
  /** RLIMIT_AS; 1 GiB by default (Node needs about that much address space to start). */
  memoryBytes: number;
  /** RLIMIT_NPROC, counted inside the sandbox's own user namespace. */
  processes: number;
  /** RLIMIT_FSIZE upper bound; lowered further to what is left of the workspace quota. */
  fileBytes: number;
  /** RLIMIT_NOFILE. */
  openFiles: number;
  /** Size of the private /tmp (tmpfs, so it is memory). */
  tmpBytes: number;
  /** Size of /dev/shm (tmpfs too); the rest of /dev is read-only. */
  shmBytes: number;
}

export const defaultSandboxLimits: SandboxLimits = {
  memoryBytes: 1024 * 1024 * 1024,
  processes: 128,
  fileBytes: 256 * 1024 * 1024,
  openFiles: 256,
  tmpBytes: 64 * 1024 * 1024,
  shmBytes: 16 * 1024 * 1024,
};

/** Where the bubblewrap backend finds workspaces: the files service (files.ts) fits. */
export interface WorkspaceRoots {
  ensureRoot(orgId: string): Promise<string>;
  usage(orgId: string): Promise<WorkspaceUsage>;
}

export interface BubblewrapOptions {
  dataDir: string;
  workspaces: WorkspaceRoots;
  /** Absolute paths of the binaries (defaults /usr/bin/bwrap, /usr/bin/prlimit). */
  bwrapPath?: string;
  prlimitPath?: string;
  limits?: Partial<SandboxLimits>;
  /**
   * Host uid/gid the sandbox runs as; by default sandboxUserFor(the gateway's uid): nobody when the
   * gateway runs as root, because the kernel never applies RLIMIT_NPROC to uid 0.
   */
  runAs?: SandboxUser;
}

/** @deprecated name kept for callers: the same as sandboxUserFor. */
export const sandboxOwnerFor = sandboxUserFor;

const SANDBOX_ENV: Record<string, string> = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: WORKSPACE_MOUNT,
  USER: "sandbox",
  LOGNAME: "sandbox",
  LANG: "C.UTF-8",
  TMPDIR: "/tmp",
};
/** Grace period for pipes to close after the sandbox was killed. */
const KILL_GRACE_MS = 3000;

/**
 * The bubblewrap backend: every command runs in a fresh sandbox over the org's workspace (see
 * docs/sandbox.md for why per call rather than one long-lived process per org). The session
 * only serialises an org's commands and kills the running one when closed.
 */
export function createBubblewrapBackend(options: BubblewrapOptions): SandboxBackend {
  const bwrapPath = options.bwrapPath ?? "/usr/bin/bwrap";
  const prlimitPath = options.prlimitPath ?? "/usr/bin/prlimit";
  const limits: SandboxLimits = { ...defaultSandboxLimits, ...options.limits };
  const runAs = options.runAs ?? sandboxUserFor(process.getuid?.() ?? -1);

  function run(orgId: string, workspaceRoot: string, request: ExecRequest, fileBytes: number): Promise<ExecResult> {
    const cpuSeconds = Math.max(1, Math.ceil(request.timeoutMs / 1000) + 1);
    const command = withLimits(
      prlimitPath,
      { cpuSeconds, addressSpace: limits.memoryBytes, processes: limits.processes, fileBytes, openFiles: limits.openFiles },
      ["/bin/sh", "-c", request.command],
    );
    const layout = {
      workspace: workspaceRoot,
      chdir: WORKSPACE_MOUNT,
      env: SANDBOX_ENV,
      tmpBytes: limits.tmpBytes,
      shmBytes: limits.shmBytes,
    };
    return runProcess(request, () =>
      spawnSandboxed(command, layout, { bwrapPath, runAs, stdin: "ignore", env: { OPENPAW_SANDBOX_ORG: orgId } }),
    );
  }

  /**
   * What the command may still write. A workspace that cannot be measured (nested too deep, its
   * helper down) leaves nothing: the command still runs, and `rm` still frees space.
   */
  async function quotaLeft(orgId: string): Promise<number> {
    try {
      const usage = await options.workspaces.usage(orgId);
      return Math.max(0, usage.quotaBytes - usage.usedBytes);
    } catch (error) {
      if (error instanceof WorkspaceError) return 0;
      throw error;
    }
  }

  return {
    name: "bubblewrap",

    async probe() {
      try {
        await prepareSandboxDirs(options.dataDir, runAs, ["sandbox", "probe"]);
        const root = join(options.dataDir, "sandbox", "probe");
        const result = await run("probe", root, { command: "echo sandbox-ok", timeoutMs: 10_000 }, 0);
        if (result.exitCode === 0 && result.stdout.trim() === "sandbox-ok") return { ok: true };
        const detail = result.stderr.trim().split("\n")[0] || `exit code ${result.exitCode}`;
        return { ok: false, reason: `bubblewrap cannot start a sandbox: ${detail}` };
      } catch (error) {
        return { ok: false, reason: `bubblewrap cannot start a sandbox: ${(error as Error).message}` };
      }
    },

    async open(orgId) {
      const workspaceRoot = await options.workspaces.ensureRoot(orgId);
      let queue: Promise<unknown> = Promise.resolve();
      const running = new Set<AbortController>();
      let closed = false;
      const session: SandboxSession = {
        orgId,
        exec(request) {
          const task = async (): Promise<ExecResult> => {
            if (closed) throw new Error("the sandbox session is closed");
            const left = await quotaLeft(orgId);
            const stop = new AbortController();
            running.add(stop);
            const signal = request.signal ? AbortSignal.any([request.signal, stop.signal]) : stop.signal;
            try {
              return await run(orgId, workspaceRoot, { ...request, signal }, Math.min(limits.fileBytes, left));
            } finally {
              running.delete(stop);
            }
          };
          const result = queue.then(task, task);
          queue = result.catch(() => undefined);
          return result;
        },
        async close() {
          closed = true;
          for (const stop of running) stop.abort();
          await queue;
        },
      };
      return session;
    },
  };
}

/** Probes bubblewrap with default options: a trivial command in a throwaway sandbox. */
export async function probeSandbox(options: Omit<BubblewrapOptions, "workspaces"> & { workspaces?: WorkspaceRoots }): Promise<ProbeResult> {
  const workspaces: WorkspaceRoots = options.workspaces ?? {
    ensureRoot: async () => join(options.dataDir, "sandbox", "probe"),
    usage: async () => ({ usedBytes: 0, quotaBytes: 0 }),
  };
  return createBubblewrapBackend({ ...options, workspaces }).probe();
}

/** Runs a sandbox, collects capped output, and kills its whole process group on timeout or abort. */
function runProcess(request: ExecRequest, start: () => ChildProcess): Promise<ExecResult> {
  const started = Date.now();
  const cap = request.maxOutputBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = start();
    } catch (error) {
      reject(error);
      return;
    }
    const out = collector(cap);
    const err = collector(cap);
    child.stdout?.on("data", out.push);
    child.stderr?.on("data", err.push);
    let killed: ExecResult["killed"] = null;
    let finished = false;
    let grace: NodeJS.Timeout | undefined;

    const kill = (why: "timeout" | "aborted") => {
      if (finished || killed) return;
      killed = why;
      killSandbox(child);
      grace = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, KILL_GRACE_MS);
    };
    const timer = setTimeout(() => kill("timeout"), request.timeoutMs);
    const onAbort = () => kill("aborted");
    if (request.signal?.aborted) onAbort();
    else request.signal?.addEventListener("abort", onAbort, { once: true });

    const finish = () => {
      finished = true;
      clearTimeout(timer);
      if (grace) clearTimeout(grace);
      request.signal?.removeEventListener("abort", onAbort);
    };
    child.on("error", (error) => {
      finish();
      reject(error);
    });
    child.on("close", (code, signal) => {
      finish();
      // bwrap reports a command killed by signal N as exit status 128+N.
      const bySignal = signal ?? (code !== null && code > 128 && code < 160 ? signalName(code - 128) : null);
      resolve({
        exitCode: signal ? null : code,
        signal: bySignal,
        stdout: out.text(),
        stderr: err.text(),
        stdoutBytes: out.total(),
        stderrBytes: err.total(),
        killed,
        durationMs: Date.now() - started,
      });
    });
  });
}

function collector(cap: number) {
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  return {
    push: (chunk: Buffer) => {
      total += chunk.length;
      if (kept < cap) {
        const part = chunk.subarray(0, cap - kept);
        chunks.push(part);
        kept += part.length;
      }
    },
    text: () => Buffer.concat(chunks).toString("utf8"),
    total: () => total,
  };
}

const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  6: "SIGABRT",
  9: "SIGKILL",
  11: "SIGSEGV",
  13: "SIGPIPE",
  15: "SIGTERM",
  24: "SIGXCPU",
  25: "SIGXFSZ",
};

function signalName(n: number): string {
  return SIGNALS[n] ?? `signal ${n}`;
}
