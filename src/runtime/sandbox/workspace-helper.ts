/**
 * The workspace helper: the program that does the file work of the files API and of the
 * read_file/write_file tools (and the browser's screenshots). It runs *inside* the org's sandbox,
 * as the sandbox's unprivileged user, with nothing of the host but /workspace, /usr and Node;
 * the gateway starts one per org (files.ts) and talks to it over stdin/stdout in frames (frames.ts).
 *
 * Why here and not in the gateway: the gateway may run as root, and a command of the org may
 * change any path under /workspace at any moment (swap a directory for a symlink, exchange two
 * names, resize a file). Whatever such a race makes this program do, it does with the rights of
 * the org's own commands, in the org's own mount namespace: there is no host file to reach and no
 * privilege to lend. On top of that it keeps the workspace rules exactly (no `..`, symlinks
 * followed in the sandbox's view only, never by the kernel) by walking with descriptors: each
 * directory is opened O_NOFOLLOW|O_DIRECTORY relative to its open parent
 * (`/proc/self/fd/<fd>/<name>`, Node's stand-in for openat), every later step works on that
 * descriptor, and reads are bounded by the bytes actually read.
 *
 * This file is bundled (programs.ts) and run by plain Node: it imports only Node's modules and
 * small, dependency-free modules of this directory.
 */
import { constants, type Stats } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readdir, readlink, rmdir, unlink } from "node:fs/promises";
import { encodeFrame, type Frame, FrameReader } from "./frames";
import { displayPath, WORKSPACE_MOUNT } from "./paths";
import type { WorkspaceEntry, WorkspaceErrorCode } from "./types";

/** What the gateway asks. `segments` were checked by parseWorkspacePath and are checked again here. */
export type HelperRequest =
  | { op: "list"; segments: string[] }
  | { op: "read"; segments: string[]; maxBytes: number }
  | { op: "write"; segments: string[]; append: boolean; maxFileBytes: number; quotaBytes: number }
  | { op: "delete"; segments: string[] }
  | { op: "usage" };

/** The answer's header; `read` sends the file's bytes as the frame's payload. */
export type HelperReply =
  | { ok: true; entries?: WorkspaceEntry[]; usedBytes?: number; written?: { path: string; size: number; created: boolean } }
  | { ok: false; code: WorkspaceErrorCode | "internal"; message: string };

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
// O_NONBLOCK: a FIFO planted by a command must not hang the helper.
const FILE_FLAGS = constants.O_NOFOLLOW | constants.O_NONBLOCK;
const MAX_SYMLINK_HOPS = 40;
/** Attempts at one path step that a racing command keeps changing, before answering `changed`. */
const MAX_RETRIES = 8;
/** Directories deeper than this are not measured (each level holds a descriptor). */
const MAX_DEPTH = 1000;
const READ_CHUNK = 1024 * 1024;
/** Largest request: an upload of the largest file, plus its header. */
const MAX_FRAME_BYTES = 1024 * 1024 * 1024;

/** A refusal with one of the workspace error codes; its message is safe to show. */
class Refusal extends Error {
  constructor(
    readonly code: WorkspaceErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A directory chain opened component by component; `dirs[0]` is /workspace. */
interface Walk {
  dirs: FileHandle[];
  names: string[];
  /** The last name, not opened (when asked for). */
  last: string | null;
}

const at = (dir: FileHandle, name: string) => `/proc/self/fd/${dir.fd}/${name}`;

/**
 * What an errno on a path a command may have changed means for the caller: always a refusal with a
 * code, so that a race ends in a 4xx. Only errors that no tenant can cause are left to propagate.
 */
function refusalOf(error: unknown, shown: string): Refusal | unknown {
  if (error instanceof Refusal) return error;
  switch ((error as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return new Refusal("not_found", `${shown} does not exist`);
    case "ENOTDIR":
      return new Refusal("not_a_file", `${shown}: a part of the path is not a directory`);
    case "EISDIR":
      return new Refusal("not_a_file", `${shown} is a directory`);
    case "ELOOP":
      return new Refusal("invalid_path", `refused path ${JSON.stringify(shown)}: the path changed while resolving`);
    case "ENXIO":
      return new Refusal("not_a_file", `${shown} is not a regular file`);
    case "ENOTEMPTY":
      return new Refusal("not_empty", `${shown} is a directory that is not empty`);
    case "EACCES":
    case "EPERM":
      return new Refusal("permission_denied", `${shown}: permission denied by the file's mode (change it with exec, e.g. chmod u+rw)`);
    case "EFBIG":
      return new Refusal("too_large", `${shown} would be larger than the file size limit`);
    case "ENOSPC":
    case "EDQUOT":
      return new Refusal("quota_exceeded", `no space left for ${shown}`);
    case "ENAMETOOLONG":
      return new Refusal("invalid_path", `refused path ${JSON.stringify(shown)}: a name is too long`);
    case "EMFILE":
    case "ENFILE":
      return new Refusal("too_large", `${shown}: too many open files while resolving (the workspace is nested too deep)`);
    default:
      return error;
  }
}

function refused(segments: string[], why: string): Refusal {
  return new Refusal("invalid_path", `refused path ${JSON.stringify(displayPath(segments))}: ${why}`);
}

function checkSegments(segments: unknown): string[] {
  if (!Array.isArray(segments)) throw new Refusal("invalid_path", "refused path: no segments");
  for (const name of segments) {
    if (typeof name !== "string" || name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
      throw new Refusal("invalid_path", `refused path segment ${JSON.stringify(name)}`);
    }
  }
  return segments as string[];
}

async function closeAll(handles: FileHandle[]): Promise<void> {
  await Promise.all(handles.map((handle) => handle.close().catch(() => undefined)));
}

async function lstatOrNull(path: string): Promise<Stats | null> {
  return lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
}

/**
 * Opens every directory of `segments` (all but the last name when `keepLast`), following symlinks
 * in the sandbox's view: an absolute target must be under /workspace, a relative one may not climb
 * above it. With `followLast`, a final symlink is followed as well. A step that a command changes
 * under our feet (a name vanishing, a directory turning into a link) is tried again, then refused.
 */
async function walk(segments: string[], mode: { followLast: boolean; createParents: boolean; keepLast: boolean }): Promise<Walk> {
  const walked: Walk = { dirs: [await open(WORKSPACE_MOUNT, DIR_FLAGS)], names: [], last: null };
  const pending = [...segments];
  let hops = 0;
  let retries = 0;
  try {
    while (pending.length > 0) {
      const name = pending.shift() as string;
      if (name === "" || name === ".") continue;
      if (name === "..") {
        if (walked.dirs.length === 1) throw refused(segments, "a symlink leads outside /workspace");
        await (walked.dirs.pop() as FileHandle).close();
        walked.names.pop();
        continue;
      }
      const isLast = pending.length === 0;
      const parent = walked.dirs[walked.dirs.length - 1];
      const shown = displayPath([...walked.names, name]);
      const again = () => {
        if (++retries > MAX_RETRIES) throw new Refusal("changed", `${shown} kept changing while resolving; try again`);
        pending.unshift(name);
      };
      const stat = await lstatOrNull(at(parent, name));
      if (stat?.isSymbolicLink() && (!isLast || mode.followLast)) {
        if (++hops > MAX_SYMLINK_HOPS) throw refused(segments, "too many levels of symlinks");
        const target = await readlink(at(parent, name)).catch((error: NodeJS.ErrnoException) => {
          // Gone, or no longer a symlink, since lstat: look at the name again.
          if (error.code === "ENOENT" || error.code === "EINVAL") return null;
          throw error;
        });
        if (target === null) {
          again();
          continue;
        }
        if (target.startsWith("/")) {
          if (target !== WORKSPACE_MOUNT && !target.startsWith(`${WORKSPACE_MOUNT}/`))
            throw refused(segments, "a symlink points outside /workspace");
          while (walked.dirs.length > 1) await (walked.dirs.pop() as FileHandle).close();
          walked.names.length = 0;
          pending.unshift(...target.slice(WORKSPACE_MOUNT.length).split("/"));
        } else {
          pending.unshift(...target.split("/"));
        }
        continue;
      }
      if (isLast && mode.keepLast) {
        walked.last = name;
        return walked;
      }
      if (!stat) {
        if (!mode.createParents) throw new Refusal("not_found", `${shown} does not exist`);
        // mkdir never follows a symlink in its last component: one planted meanwhile is EEXIST, then ELOOP below.
        await mkdir(at(parent, name), { mode: 0o755 }).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== "EEXIST") throw error;
        });
      } else if (!stat.isDirectory()) {
        throw new Refusal("not_a_file", `${shown} is not a directory`);
      }
      const handle = await open(at(parent, name), DIR_FLAGS).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT" || error.code === "ELOOP" || error.code === "ENOTDIR") return null;
        throw error;
      });
      if (!handle) {
        again();
        continue;
      }
      walked.dirs.push(handle);
      walked.names.push(name);
    }
    return walked;
  } catch (error) {
    await closeAll(walked.dirs);
    throw error;
  }
}

async function list(segments: string[]): Promise<WorkspaceEntry[]> {
  const walked = await walk(segments, { followLast: true, createParents: false, keepLast: false });
  try {
    const dir = walked.dirs[walked.dirs.length - 1];
    const entries: WorkspaceEntry[] = [];
    for (const name of (await readdir(`/proc/self/fd/${dir.fd}`)).sort()) {
      const stat = await lstatOrNull(at(dir, name));
      if (!stat) continue;
      entries.push({
        name,
        path: displayPath([...walked.names, name]),
        type: stat.isFile() ? "file" : stat.isDirectory() ? "directory" : stat.isSymbolicLink() ? "symlink" : "other",
        size: stat.isFile() ? stat.size : 0,
        modifiedAt: Math.floor(stat.mtimeMs),
      });
    }
    return entries;
  } finally {
    await closeAll(walked.dirs);
  }
}

/** Opens the last name under an open directory, never following a symlink. */
async function openLast(walked: Walk, flags: number): Promise<FileHandle> {
  const parent = walked.dirs[walked.dirs.length - 1];
  return open(at(parent, walked.last as string), flags | FILE_FLAGS, 0o644);
}

/** The file's bytes, at most `maxBytes`: counted as they are read, since a command may grow the file meanwhile. */
async function read(segments: string[], maxBytes: number): Promise<Buffer> {
  const walked = await walk(segments, { followLast: true, createParents: false, keepLast: true });
  try {
    if (walked.last === null) throw new Refusal("not_a_file", `${displayPath(walked.names)} is a directory`);
    const shown = displayPath([...walked.names, walked.last]);
    const tooLarge = (size: string) => new Refusal("too_large", `${shown} is ${size} bytes, over the ${maxBytes}-byte limit of one read`);
    const file = await openLast(walked, constants.O_RDONLY);
    try {
      const stat = await file.stat();
      if (!stat.isFile()) throw new Refusal("not_a_file", `${shown} is ${stat.isDirectory() ? "a directory" : "not a regular file"}`);
      if (stat.size > maxBytes) throw tooLarge(String(stat.size));
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, maxBytes + 1 - total));
        const { bytesRead } = await file.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) break;
        chunks.push(chunk.subarray(0, bytesRead));
        total += bytesRead;
        if (total > maxBytes) throw tooLarge("more than that");
      }
      return Buffer.concat(chunks, total);
    } finally {
      await file.close();
    }
  } finally {
    await closeAll(walked.dirs);
  }
}

async function write(
  segments: string[],
  data: Buffer,
  options: { append: boolean; maxFileBytes: number; quotaBytes: number },
): Promise<{ path: string; size: number; created: boolean }> {
  if (segments.length === 0) throw new Refusal("not_a_file", `${WORKSPACE_MOUNT} is a directory`);
  const walked = await walk(segments, { followLast: true, createParents: true, keepLast: true });
  const shown = displayPath([...walked.names, walked.last as string]);
  try {
    const parent = walked.dirs[walked.dirs.length - 1];
    const existed = (await lstatOrNull(at(parent, walked.last as string))) !== null;
    const flags = constants.O_WRONLY | constants.O_CREAT | (options.append ? constants.O_APPEND : 0);
    const file = await openLast(walked, flags);
    try {
      const stat = await file.stat();
      if (!stat.isFile()) throw new Refusal("not_a_file", `${shown} is not a regular file`);
      const finalSize = options.append ? stat.size + data.length : data.length;
      if (finalSize > options.maxFileBytes) {
        throw new Refusal("too_large", `${shown} would be ${finalSize} bytes, over the ${options.maxFileBytes}-byte file limit`);
      }
      const growth = finalSize - stat.size;
      if (growth > 0) {
        const used = await usage();
        if (used + growth > options.quotaBytes) {
          throw new Refusal(
            "quota_exceeded",
            `workspace quota exceeded: writing ${shown} needs ${growth} more bytes, but ${used} of ${options.quotaBytes} bytes are used. Delete files to free space.`,
          );
        }
      }
      if (!options.append) await file.truncate(0);
      let offset = 0;
      while (offset < data.length) {
        const { bytesWritten } = await file.write(data, offset, data.length - offset, options.append ? null : offset);
        offset += bytesWritten;
      }
      return { path: shown, size: finalSize, created: !existed };
    } catch (error) {
      // Never leave a refused new file behind (unlink by the parent's descriptor: never a link's target).
      if (!existed) await unlink(at(parent, walked.last as string)).catch(() => undefined);
      throw error;
    } finally {
      await file.close();
    }
  } catch (error) {
    throw refusalOf(error, shown);
  } finally {
    await closeAll(walked.dirs);
  }
}

/** Deletes a file, a symlink (never its target) or an empty directory. */
async function remove(segments: string[]): Promise<void> {
  if (segments.length === 0) throw new Refusal("invalid_path", `refusing to delete ${WORKSPACE_MOUNT} itself`);
  const walked = await walk(segments, { followLast: false, createParents: false, keepLast: true });
  const shown = displayPath([...walked.names, walked.last as string]);
  try {
    const path = at(walked.dirs[walked.dirs.length - 1], walked.last as string);
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      const stat = await lstatOrNull(path);
      if (!stat) throw new Refusal("not_found", `${shown} does not exist`);
      try {
        if (stat.isDirectory()) await rmdir(path);
        else await unlink(path);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // A directory became a file, or the reverse, since lstat: look again.
        if (code === "ENOTDIR" || code === "EISDIR") continue;
        if (code === "EEXIST") throw new Refusal("not_empty", `${shown} is a directory that is not empty`);
        throw error;
      }
    }
    throw new Refusal("changed", `${shown} kept changing while deleting; try again`);
  } catch (error) {
    throw refusalOf(error, shown);
  } finally {
    await closeAll(walked.dirs);
  }
}

/** Apparent size of every regular file under /workspace; a link is never followed, not even one that appears meanwhile. */
async function usage(): Promise<number> {
  const root = await open(WORKSPACE_MOUNT, DIR_FLAGS);
  try {
    return await treeBytes(root, 0);
  } finally {
    await root.close();
  }
}

async function treeBytes(dir: FileHandle, depth: number): Promise<number> {
  let total = 0;
  const names = await readdir(`/proc/self/fd/${dir.fd}`).catch(() => [] as string[]);
  for (const name of names) {
    const stat = await lstatOrNull(at(dir, name)).catch(() => null);
    if (stat?.isFile()) total += stat.size;
    else if (stat?.isDirectory()) {
      if (depth >= MAX_DEPTH) throw new Refusal("too_large", `the workspace is nested more than ${MAX_DEPTH} directories deep; flatten it`);
      // O_NOFOLLOW: a directory swapped for a symlink since lstat is skipped, never entered.
      const child = await open(at(dir, name), DIR_FLAGS).catch(() => null);
      if (!child) continue;
      try {
        total += await treeBytes(child, depth + 1);
      } finally {
        await child.close();
      }
    }
  }
  return total;
}

async function answer(request: HelperRequest, payload: Buffer): Promise<{ reply: HelperReply; payload?: Buffer }> {
  const segments = request.op === "usage" ? [] : checkSegments(request.segments);
  try {
    switch (request.op) {
      case "list":
        return { reply: { ok: true, entries: await list(segments) } };
      case "read":
        return { reply: { ok: true }, payload: await read(segments, request.maxBytes) };
      case "write":
        return { reply: { ok: true, written: await write(segments, payload, request) } };
      case "delete":
        await remove(segments);
        return { reply: { ok: true } };
      case "usage":
        return { reply: { ok: true, usedBytes: await usage() } };
      default:
        throw new Refusal("invalid_path", `unknown operation ${JSON.stringify((request as { op: unknown }).op)}`);
    }
  } catch (error) {
    throw refusalOf(error, displayPath(segments));
  }
}

/**
 * Reads frames from stdin, answers each (changes one at a time, so two writes cannot both pass the
 * quota). When the gateway ends stdin, the helper finishes what it was asked, flushes its answers
 * and exits by itself: nothing else keeps it alive.
 */
function main(): void {
  const reader = new FrameReader(MAX_FRAME_BYTES);
  let changes: Promise<unknown> = Promise.resolve();
  const send = (header: Record<string, unknown>, payload?: Buffer) => {
    for (const part of encodeFrame(header, payload)) process.stdout.write(part);
  };
  const handle = (frame: Frame) => {
    const request = frame.header as HelperRequest & { id: number };
    const run = async () => {
      try {
        const { reply, payload } = await answer(request, frame.payload);
        send({ id: request.id, ...reply }, payload);
      } catch (error) {
        const refusal = refusalOf(error, "the path");
        if (refusal instanceof Refusal) send({ id: request.id, ok: false, code: refusal.code, message: refusal.message });
        else send({ id: request.id, ok: false, code: "internal", message: String((error as Error)?.message ?? error) });
      }
    };
    if (request.op === "write" || request.op === "delete") changes = changes.then(run);
    else void run();
  };
  process.stdin.on("data", (chunk: Buffer) => {
    for (const frame of reader.push(chunk)) handle(frame);
  });
}

main();
