/**
 * How every process of a sandbox is started: the `exec` commands (bubblewrap.ts), the workspace
 * file helper (files.ts) and Chromium (browser-sandbox.ts) all get the same bubblewrap layout from
 * here, so a hardening added once applies to all three. See docs/sandbox.md for the guarantees.
 */
import { type ChildProcess, spawn, type StdioOptions } from "node:child_process";
import { accessSync, constants, lstatSync, readFileSync, readlinkSync } from "node:fs";
import { chmod, mkdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { WORKSPACE_MOUNT } from "./paths";
import { projectFile } from "../../lib/project-files";

/** A host uid/gid; sandboxes run as one (see sandboxUserFor). */
export interface SandboxUser {
  uid: number;
  gid: number;
}

/**
 * The unprivileged host user sandboxes run as for a gateway running with `uid`: nobody when the
 * gateway is root (the kernel never applies RLIMIT_NPROC to uid 0, and a sandbox must never hold
 * more privilege than a tenant), the gateway's own user otherwise.
 */
export function sandboxUserFor(uid: number): SandboxUser | undefined {
  return uid === 0 ? { uid: 65534, gid: 65534 } : undefined;
}

/** What runs inside sees itself as this user (a generated /etc/passwd names it "sandbox"). */
export const SANDBOX_UID = 1000;

/** Where Node is inside a sandbox when the host's binary lives outside /usr (which is always mounted). */
const NODE_IN_SANDBOX = "/opt/openpaw/node";

/** Generated account files: the host's /etc is never mounted. */
const ETC_FILES: Record<string, string> = {
  "/etc/passwd": `sandbox:x:${SANDBOX_UID}:${SANDBOX_UID}:sandbox:${WORKSPACE_MOUNT}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
  "/etc/group": `sandbox:x:${SANDBOX_UID}:\nnogroup:x:65534:\n`,
  "/etc/hosts": "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost\n",
  "/etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
};

/** The text of close-fds.sh, run by `bash -c` in front of every bwrap (the Dockerfile runs the file). */
const CLOSE_FDS_SCRIPT = readFileSync(projectFile("src/runtime/sandbox/close-fds.sh"), "utf8");

/** Descriptors 0-2 are stdio; the in-memory files of a layout are handed to bwrap from 3 on. */
const FIRST_DATA_FD = 3;

/** One sandbox's file system and environment. Everything not listed is absent. */
export interface SandboxLayout {
  /** Host directory mounted read-write at /workspace (the org's workspace). */
  workspace?: string;
  /** Host paths mounted read-write inside (the browser's egress socket). */
  binds?: Array<{ source: string; dest: string }>;
  /** Host paths mounted read-only when they exist (e.g. /etc/fonts for Chromium). */
  readOnlyIfPresent?: string[];
  /** Files created from memory, read-only. Never bind a host path for this: mountinfo would show it. */
  files?: Array<{ dest: string; content: string }>;
  /** Size of the private /tmp and of /dev/shm (tmpfs, so memory). */
  tmpBytes: number;
  shmBytes: number;
  /** The whole environment the processes inside see. */
  env: Record<string, string>;
  chdir?: string;
}

/**
 * bwrap's arguments for a layout, and the contents bwrap reads from descriptors `firstFd`,
 * `firstFd + 1`, ... (one per in-memory file). The command goes after a `--` the caller adds.
 */
export function sandboxArgs(layout: SandboxLayout, firstFd = FIRST_DATA_FD): { args: string[]; data: string[] } {
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
  for (const [key, value] of Object.entries(layout.env)) args.push("--setenv", key, value);
  args.push("--ro-bind", "/usr", "/usr", ...systemDirArgs());
  const node = nodeBinary();
  if (node.bind) args.push("--ro-bind", node.bind, node.path);

  const data: string[] = [];
  const files = [...Object.entries(ETC_FILES).map(([dest, content]) => ({ dest, content })), ...(layout.files ?? [])];
  const dirs = new Set(files.map((file) => dirname(file.dest)));
  for (const dir of dirs) args.push("--dir", dir);
  for (const file of files) {
    args.push("--perms", "0444", "--ro-bind-data", String(firstFd + data.length), file.dest);
    data.push(file.content);
  }
  // The loader cache and the alternatives links are the only pieces of the host's /etc.
  args.push("--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache", "--ro-bind-try", "/etc/alternatives", "/etc/alternatives");
  for (const path of layout.readOnlyIfPresent ?? []) args.push("--ro-bind-try", path, path);

  // /dev: bwrap's minimal device set on a tmpfs that is then made read-only, so that the only
  // writable places are the bounded ones below (bwrap's own tmpfs would take half the machine's memory).
  args.push("--proc", "/proc", "--dev", "/dev");
  args.push("--perms", "1777", "--size", String(layout.shmBytes), "--tmpfs", "/dev/shm", "--remount-ro", "/dev");
  args.push("--perms", "1777", "--size", String(layout.tmpBytes), "--tmpfs", "/tmp");
  if (layout.workspace) args.push("--bind", layout.workspace, WORKSPACE_MOUNT);
  for (const bind of layout.binds ?? []) args.push("--bind", bind.source, bind.dest);
  if (layout.chdir) args.push("--chdir", layout.chdir);
  args.push("--remount-ro", "/");
  return { args, data };
}

export interface SandboxSpawnOptions {
  bwrapPath: string;
  /** Host user to run as; when the gateway already is that user (or none is given) it runs as itself. */
  runAs?: SandboxUser;
  /** The file helper talks over stdin; a command gets none. */
  stdin: "pipe" | "ignore";
  /** bwrap's own environment, which is what /proc/1/environ shows inside: never a secret. */
  env?: Record<string, string>;
  bashPath?: string;
}

/**
 * Starts `command` in a sandbox with `layout`. Every descriptor the gateway inherited is closed
 * before bwrap runs (close-fds.sh), privileges are dropped to `runAs`, and bwrap leads its own
 * process group, so that killing the group (and with it bwrap's PID namespace) kills everything.
 */
export function spawnSandboxed(command: string[], layout: SandboxLayout, options: SandboxSpawnOptions): ChildProcess {
  // Checked here because bash would only report a missing bwrap as exit status 127.
  accessSync(options.bwrapPath, constants.X_OK);
  const { args, data } = sandboxArgs(layout);
  const runAs = options.runAs;
  const dropPrivileges = runAs !== undefined && process.getuid?.() !== runAs.uid;
  const stdio: StdioOptions = [options.stdin, "pipe", "pipe", ...data.map(() => "pipe" as const)];
  const child = spawn(
    options.bashPath ?? "/bin/bash",
    ["-c", CLOSE_FDS_SCRIPT, "close-fds", String(FIRST_DATA_FD + data.length), options.bwrapPath, ...args, "--", ...command],
    {
      env: { PATH: "/usr/bin:/bin", ...options.env },
      stdio,
      detached: true,
      ...(dropPrivileges ? { uid: runAs.uid, gid: runAs.gid } : {}),
    },
  );
  data.forEach((content, index) => {
    const stream = child.stdio[FIRST_DATA_FD + index] as Writable | null;
    // bwrap reads each to its end while it sets up; if it failed first, the pipe is gone.
    stream?.on("error", () => undefined);
    stream?.end(content);
  });
  return child;
}

/**
 * The data directory and directories under it (`["workspaces"]`, `["sandbox", "browsers"]`) as
 * sandboxes need them: private to the gateway (0700), or 0711 when sandboxes run as another user,
 * who must traverse them to reach what is mounted from them but may not list them. Directories
 * the gateway owns are tightened to that; others keep their mode (the deployment decides).
 */
export async function prepareSandboxDirs(dataDir: string, runAs: SandboxUser | undefined, below: string[]): Promise<void> {
  const mode = runAs && runAs.uid !== process.getuid?.() ? 0o711 : 0o700;
  let dir = dataDir;
  for (const name of ["", ...below]) {
    dir = name ? join(dir, name) : dir;
    await mkdir(dir, { recursive: true, mode });
    const current = await stat(dir);
    if (current.uid === process.getuid?.() && (current.mode & 0o777) !== mode) await chmod(dir, mode).catch(() => undefined);
  }
}

/** prlimit in front of a command, inside the sandbox, so the limits cannot be raised from there. */
export function withLimits(
  prlimitPath: string,
  limits: { cpuSeconds?: number; addressSpace?: number; processes: number; fileBytes: number; openFiles: number },
  command: string[],
): string[] {
  const args = [prlimitPath];
  if (limits.cpuSeconds !== undefined) args.push(`--cpu=${limits.cpuSeconds}`);
  if (limits.addressSpace !== undefined) args.push(`--as=${limits.addressSpace}`);
  args.push(`--nproc=${limits.processes}`, `--fsize=${limits.fileBytes}`, `--nofile=${limits.openFiles}`, "--core=0", "--", ...command);
  return args;
}

/** The path of Node inside a sandbox, and the host binary to mount there when /usr does not hold it. */
export function nodeBinary(): { path: string; bind?: string } {
  const host = process.execPath;
  return host.startsWith("/usr/") ? { path: host } : { path: NODE_IN_SANDBOX, bind: host };
}

/** Kills a sandbox: its process group holds bwrap, whose death takes the PID namespace along. */
export function killSandbox(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
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
