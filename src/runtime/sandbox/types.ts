/**
 * The sandbox contract of the runtime. A backend runs shell commands for one org at a time over
 * that org's workspace; the pool (pool.ts) decides when a backend session is opened and closed.
 * Nothing here assumes the commands run on this machine, so a remote sandbox service can
 * implement the same two interfaces (see docs/sandbox.md, "Remote backend").
 */

/** Result of a trivial run through the real backend: `ok: false` carries a reason for operators. */
export type ProbeResult = { ok: true } | { ok: false; reason: string };

/** One command to run inside an org's sandbox. */
export interface ExecRequest {
  /** Passed to `sh -c` with cwd /workspace. */
  command: string;
  /** Wall-clock limit; the whole sandbox (every process in it) is killed when it passes. */
  timeoutMs: number;
  /** Aborting kills the command the same way a timeout does. */
  signal?: AbortSignal;
  /** Bytes of stdout and of stderr kept (each); the rest is counted but dropped. */
  maxOutputBytes?: number;
}

/** What a command did. `stdout`/`stderr` hold at most `maxOutputBytes` each, decoded as UTF-8. */
export interface ExecResult {
  /** Exit status (128+N when signal N ended the command), or null when no status was reported. */
  exitCode: number | null;
  /** Name of the signal that probably ended the command ("SIGKILL", "SIGXCPU", ...), or null. */
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Total bytes the command wrote to each stream, kept or not. */
  stdoutBytes: number;
  stderrBytes: number;
  /** Why the sandbox was killed from outside, if it was. */
  killed: "timeout" | "aborted" | null;
  durationMs: number;
}

/** A backend's handle on one org's sandbox; commands given to one session are run one at a time. */
export interface SandboxSession {
  readonly orgId: string;
  exec(request: ExecRequest): Promise<ExecResult>;
  /** Kills whatever still runs and releases the session's resources. Idempotent. */
  close(): Promise<void>;
}

/** A place where sandboxes come from: bubblewrap on this host today, a remote service later. */
export interface SandboxBackend {
  /** Short name for logs and docs ("bubblewrap", "remote"). */
  readonly name: string;
  /** Tries a trivial command for real; never throws. */
  probe(): Promise<ProbeResult>;
  /** Opens (or wakes) the org's sandbox. */
  open(orgId: string): Promise<SandboxSession>;
}

/** Error codes of the workspace file rules, mapped by the HTTP layer to statuses. */
export type WorkspaceErrorCode =
  | "invalid_path" // refused by the path rules (400)
  | "not_found" // (404)
  | "not_a_file" // a directory where a file was expected, or the reverse (400)
  | "not_empty" // deleting a directory that still has entries (409)
  | "too_large" // over a size cap of one read or write (413)
  | "quota_exceeded" // the workspace would grow past its plan's quota (413)
  | "changed" // the path kept changing while the operation ran (a command racing it); retrying may work (409)
  | "permission_denied" // the file's own mode forbids it, as it would forbid the sandbox's user (403)
  | "unavailable"; // the sandbox that does the file work cannot start or stopped (503)

/** A refusal by the workspace rules; `message` is safe to show to the agent or the API user. */
export class WorkspaceError extends Error {
  readonly code: WorkspaceErrorCode;
  constructor(code: WorkspaceErrorCode, message: string) {
    super(message);
    this.name = "WorkspaceError";
    this.code = code;
  }
}

/** One entry of a workspace directory listing. Paths are as the agent sees them (/workspace/...). */
export interface WorkspaceEntry {
  name: string;
  path: string;
  type: "file" | "directory" | "symlink" | "other";
  size: number;
  modifiedAt: number;
}

/** Bytes used by a workspace against its plan's quota. */
export interface WorkspaceUsage {
  usedBytes: number;
  quotaBytes: number;
}

/**
 * The files of an org's workspace, for the read_file/write_file tools and the HTTP files API.
 * Every path is resolved inside the org's /workspace (see paths.ts); writes respect the quota.
 */
export interface WorkspaceFiles {
  list(orgId: string, path?: string): Promise<WorkspaceEntry[]>;
  read(orgId: string, path: string, options?: { maxBytes?: number }): Promise<Uint8Array>;
  write(
    orgId: string,
    path: string,
    data: Uint8Array,
    options?: { append?: boolean },
  ): Promise<{ path: string; size: number; created: boolean }>;
  /** Deletes a file, a symlink (never its target) or an empty directory. */
  delete(orgId: string, path: string): Promise<void>;
  usage(orgId: string): Promise<WorkspaceUsage>;
  /** Removes the org's whole workspace (its org was deleted). Idempotent. */
  removeWorkspace(orgId: string): Promise<void>;
}
