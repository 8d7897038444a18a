import { type ChildProcess, spawn } from "node:child_process";
import { lstatSync, readlinkSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { WorkspaceOwner } from "./files";
import { WORKSPACE_MOUNT } from "./paths";
import type { ExecRequest, ExecResult, ProbeResult, SandboxBackend, SandboxSession, WorkspaceUsage } from "./types";

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
}

export const defaultSandboxLimits: SandboxLimits = {
  memoryBytes: 1024 * 1024 * 1024,
  processes: 128,
  fileBytes: 256 * 1024 * 1024,
  openFiles: 256,
  tmpBytes: 64 * 1024 * 1024,
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
   * Host uid/gid the sandbox runs as. Needed when the gateway runs as root, because the kernel
   * never applies RLIMIT_NPROC to uid 0 (a fork bomb would go unchecked). See sandboxOwnerFor.
   */
  runAs?: WorkspaceOwner;
}

/** The unprivileged owner the sandbox should run as for a gateway running with `uid`: nobody when root. */
export function sandboxOwnerFor(uid: number): WorkspaceOwner | undefined {
  return uid === 0 ? { uid: 65534, gid: 65534 } : undefined;
}

const SANDBOX_UID = 1000;
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
  const etcDir = join(options.dataDir, "sandbox", "etc");
  let etcReady: Promise<void> | undefined;

  function prepareEtc(): Promise<void> {
    etcReady ??= writeSandboxEtc(etcDir).catch((error) => {
      etcReady = undefined;
      throw error;
    });
    return etcReady;
  }

  async function run(orgId: string, workspaceRoot: string, request: ExecRequest, fileBytes: number): Promise<ExecResult> {
    await prepareEtc();
    const cpuSeconds = Math.max(1, Math.ceil(request.timeoutMs / 1000) + 1);
    const args = [
      ...baseArgs(etcDir, limits.tmpBytes),
      "--bind",
      workspaceRoot,
      WORKSPACE_MOUNT,
      "--chdir",
      WORKSPACE_MOUNT,
      "--remount-ro",
      "/",
      "--",
      prlimitPath,
      `--cpu=${cpuSeconds}`,
      `--as=${limits.memoryBytes}`,
      `--nproc=${limits.processes}`,
      `--fsize=${fileBytes}`,
      `--nofile=${limits.openFiles}`,
      "--core=0",
      "--",
      "/bin/sh",
      "-c",
      request.command,
    ];
    return runProcess(bwrapPath, args, request, options.runAs, orgId);
  }

  return {
    name: "bubblewrap",

    async probe() {
      try {
        const root = join(options.dataDir, "sandbox", "probe");
        await mkdir(root, { recursive: true });
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
            const usage = await options.workspaces.usage(orgId);
            const left = Math.max(0, usage.quotaBytes - usage.usedBytes);
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

/** The mounts and namespaces every sandbox gets; the workspace and the command are added per call. */
function baseArgs(etcDir: string, tmpBytes: number): string[] {
  const args = [
    "--unshare-user",
    "--unshare-ipc",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-uts",
    "--unshare-cgroup",
    "--disable-userns",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--uid",
    String(SANDBOX_UID),
    "--gid",
    String(SANDBOX_UID),
    "--hostname",
    "sandbox",
    "--clearenv",
  ];
  for (const [key, value] of Object.entries(SANDBOX_ENV)) args.push("--setenv", key, value);
  args.push("--ro-bind", "/usr", "/usr");
  args.push(...systemDirArgs());
  // No host /etc: only generated account files, the loader cache and the alternatives links.
  args.push("--dir", "/etc");
  for (const name of ["passwd", "group", "hosts", "nsswitch.conf"]) {
    args.push("--ro-bind", join(etcDir, name), `/etc/${name}`);
  }
  args.push("--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache");
  args.push("--ro-bind-try", "/etc/alternatives", "/etc/alternatives");
  args.push("--proc", "/proc", "--dev", "/dev");
  args.push("--size", String(tmpBytes), "--perms", "1777", "--tmpfs", "/tmp");
  return args;
}

let systemDirs: string[] | undefined;

/** /bin, /lib... are symlinks into /usr on merged-/usr systems and directories elsewhere. */
function systemDirArgs(): string[] {
  if (systemDirs) return systemDirs;
  const args: string[] = [];
  for (const dir of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    try {
      const stat = lstatSync(dir);
      if (stat.isSymbolicLink()) args.push("--symlink", readlinkSync(dir), dir);
      else if (stat.isDirectory()) args.push("--ro-bind", dir, dir);
    } catch {
      // absent on this architecture
    }
  }
  systemDirs = args;
  return args;
}

async function writeSandboxEtc(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files: Record<string, string> = {
    passwd: `sandbox:x:${SANDBOX_UID}:${SANDBOX_UID}:sandbox:${WORKSPACE_MOUNT}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    group: `sandbox:x:${SANDBOX_UID}:\nnogroup:x:65534:\n`,
    hosts: "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
  };
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content, { mode: 0o644 });
}

/** Runs bwrap, collects capped output, and kills its whole process group on timeout or abort. */
function runProcess(
  file: string,
  args: string[],
  request: ExecRequest,
  runAs: WorkspaceOwner | undefined,
  orgId: string,
): Promise<ExecResult> {
  const started = Date.now();
  const cap = request.maxOutputBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const dropPrivileges = runAs && process.getuid?.() !== runAs.uid;
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        // bwrap's own environment is what /proc/1/environ shows inside: keep it empty of secrets.
        env: { PATH: "/usr/bin:/bin", OPENPAW_SANDBOX_ORG: orgId },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
        ...(dropPrivileges ? { uid: runAs.uid, gid: runAs.gid } : {}),
      });
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
      try {
        // The group holds bwrap; its death takes the sandbox's PID namespace (and every process in it) along.
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
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
