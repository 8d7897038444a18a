import { constants } from "node:fs";
import { type FileHandle, chown, lstat, mkdir, open, readdir, readlink, realpath, rm, rmdir, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { displayPath, parseWorkspacePath, workspaceDir, WORKSPACE_MOUNT } from "./paths";
import { type WorkspaceEntry, WorkspaceError, type WorkspaceFiles, type WorkspaceUsage } from "./types";

/** Host uid/gid that owns workspace files, when the gateway runs as root (see bubblewrap.ts). */
export interface WorkspaceOwner {
  uid: number;
  gid: number;
}

export interface WorkspaceFilesOptions {
  dataDir: string;
  /** The plan's quota of an org, in bytes (apparent file sizes, like `du --apparent-size`). */
  quotaBytes(orgId: string): number | Promise<number>;
  /** Largest file one read returns and one write accepts (default 10 MiB). */
  maxFileBytes?: number;
  /** chown what we create to this owner, so the sandbox user can change it too. */
  owner?: WorkspaceOwner;
}

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const MAX_SYMLINK_HOPS = 40;

/** A directory chain opened component by component; `dirs[0]` is the workspace root. */
interface Walk {
  dirs: FileHandle[];
  names: string[];
}

/**
 * The files of org workspaces on this host, with the workspace path rules and the quota.
 *
 * Why file descriptors: an exec command of the same org may swap a directory for a symlink
 * while we resolve a path (parallel tool calls). So we never hand the kernel a path with more
 * than one unchecked component: each directory is opened with O_NOFOLLOW relative to the
 * already-open parent (`/proc/self/fd/<fd>/<name>`, Linux's openat), and the final file is
 * opened with O_NOFOLLOW too. Symlinks are followed by us, in the sandbox's view (an absolute
 * target must be under /workspace; `..` may not climb above it), never by the kernel.
 */
export function createWorkspaceFiles(options: WorkspaceFilesOptions): WorkspaceFiles & {
  /** Host directory of the org's workspace, created (and chowned) on first use. */
  ensureRoot(orgId: string): Promise<string>;
} {
  const maxFileBytes = options.maxFileBytes ?? 10 * 1024 * 1024;
  const locks = new Map<string, Promise<unknown>>();

  async function ensureRoot(orgId: string): Promise<string> {
    const dir = workspaceDir(options.dataDir, orgId);
    await mkdir(dirname(dir), { recursive: true, mode: 0o755 });
    // 0700: on the host, one org's sandbox user has no business in another org's files.
    await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    if (options.owner) await chown(dir, options.owner.uid, options.owner.gid);
    return realpath(dir);
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

  /**
   * Opens every directory of `segments` except (when `keepLast`) the last name, following
   * symlinks in the sandbox's view. With `followLast`, a final symlink is followed as well.
   */
  async function walk(
    orgId: string,
    segments: string[],
    mode: { followLast: boolean; createParents: boolean; openLast: boolean },
  ): Promise<Walk & { last: string | null }> {
    const root = await ensureRoot(orgId);
    const walked: Walk = { dirs: [await open(root, DIR_FLAGS)], names: [] };
    const pending = [...segments];
    let hops = 0;
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
        const hostPath = `/proc/self/fd/${parent.fd}/${name}`;
        const stat = await lstat(hostPath).catch((error: NodeJS.ErrnoException) => {
          if (error.code === "ENOENT") return null;
          throw error;
        });
        if (stat?.isSymbolicLink() && (!isLast || mode.followLast)) {
          if (++hops > MAX_SYMLINK_HOPS) throw refused(segments, "too many levels of symlinks");
          const target = await readlink(hostPath);
          if (target.startsWith("/")) {
            if (target !== WORKSPACE_MOUNT && !target.startsWith(`${WORKSPACE_MOUNT}/`)) {
              throw refused(segments, "a symlink points outside /workspace");
            }
            while (walked.dirs.length > 1) await (walked.dirs.pop() as FileHandle).close();
            walked.names.length = 0;
            pending.unshift(...target.slice(WORKSPACE_MOUNT.length).split("/"));
          } else {
            pending.unshift(...target.split("/"));
          }
          continue;
        }
        if (isLast && !mode.openLast) return { ...walked, last: name };
        if (!stat) {
          if (!mode.createParents) throw new WorkspaceError("not_found", `${displayPath(segments)} does not exist`);
          await mkdir(hostPath, { mode: 0o755 }).catch((error: NodeJS.ErrnoException) => {
            if (error.code !== "EEXIST") throw error;
          });
          if (options.owner) await chown(hostPath, options.owner.uid, options.owner.gid);
        } else if (!stat.isDirectory()) {
          throw new WorkspaceError("not_a_file", `${displayPath([...walked.names, name])} is not a directory`);
        }
        // O_NOFOLLOW: if the entry became a symlink since lstat, this fails instead of escaping.
        const handle = await open(hostPath, DIR_FLAGS).catch((error: NodeJS.ErrnoException) => {
          if (error.code === "ELOOP" || error.code === "ENOTDIR") throw refused(segments, "the path changed while resolving");
          throw error;
        });
        walked.dirs.push(handle);
        walked.names.push(name);
      }
      return { ...walked, last: null };
    } catch (error) {
      await closeAll(walked.dirs);
      throw error;
    }
  }

  async function quotaCheck(orgId: string, growth: number, shownPath: string): Promise<void> {
    if (growth <= 0) return;
    const usage = await usageOf(orgId);
    if (usage.usedBytes + growth > usage.quotaBytes) {
      throw new WorkspaceError(
        "quota_exceeded",
        `workspace quota exceeded: writing ${shownPath} needs ${growth} more bytes, but ${usage.usedBytes} of ${usage.quotaBytes} bytes are used. Delete files to free space.`,
      );
    }
  }

  async function usageOf(orgId: string): Promise<WorkspaceUsage> {
    const root = await ensureRoot(orgId);
    return { usedBytes: await treeBytes(root), quotaBytes: await options.quotaBytes(orgId) };
  }

  return {
    ensureRoot,

    async list(orgId, path = WORKSPACE_MOUNT) {
      const segments = parseWorkspacePath(path);
      const walked = await walk(orgId, segments, { followLast: true, createParents: false, openLast: true });
      try {
        const dir = walked.dirs[walked.dirs.length - 1];
        const entries: WorkspaceEntry[] = [];
        for (const name of (await readdir(`/proc/self/fd/${dir.fd}`)).sort()) {
          const stat = await lstat(`/proc/self/fd/${dir.fd}/${name}`).catch(() => null);
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
    },

    async read(orgId, path, readOptions) {
      const limit = Math.min(readOptions?.maxBytes ?? maxFileBytes, maxFileBytes);
      const segments = parseWorkspacePath(path);
      const walked = await walk(orgId, segments, { followLast: true, createParents: false, openLast: false });
      try {
        if (walked.last === null) throw new WorkspaceError("not_a_file", `${displayPath(walked.names)} is a directory`);
        const shown = displayPath([...walked.names, walked.last]);
        const parent = walked.dirs[walked.dirs.length - 1];
        const file = await openFinal(parent, walked.last, constants.O_RDONLY, segments);
        try {
          const stat = await file.stat();
          if (stat.isDirectory()) throw new WorkspaceError("not_a_file", `${shown} is a directory`);
          if (!stat.isFile()) throw new WorkspaceError("not_a_file", `${shown} is not a regular file`);
          if (stat.size > limit) {
            throw new WorkspaceError("too_large", `${shown} is ${stat.size} bytes, over the ${limit}-byte limit of one read`);
          }
          return new Uint8Array(await file.readFile());
        } finally {
          await file.close();
        }
      } finally {
        await closeAll(walked.dirs);
      }
    },

    async write(orgId, path, data, writeOptions) {
      const segments = parseWorkspacePath(path);
      if (segments.length === 0) throw new WorkspaceError("not_a_file", `${WORKSPACE_MOUNT} is a directory`);
      return withLock(orgId, async () => {
        const walked = await walk(orgId, segments, { followLast: true, createParents: true, openLast: false });
        try {
          const last = walked.last as string;
          const shown = displayPath([...walked.names, last]);
          const parent = walked.dirs[walked.dirs.length - 1];
          const hostPath = `/proc/self/fd/${parent.fd}/${last}`;
          const existed = await lstat(hostPath).then(
            () => true,
            () => false,
          );
          const flags = constants.O_WRONLY | constants.O_CREAT | (writeOptions?.append ? constants.O_APPEND : 0);
          const file = await openFinal(parent, last, flags, segments);
          try {
            const stat = await file.stat();
            if (!stat.isFile()) throw new WorkspaceError("not_a_file", `${shown} is not a regular file`);
            const finalSize = writeOptions?.append ? stat.size + data.byteLength : data.byteLength;
            if (finalSize > maxFileBytes) {
              throw new WorkspaceError("too_large", `${shown} would be ${finalSize} bytes, over the ${maxFileBytes}-byte file limit`);
            }
            await quotaCheck(orgId, finalSize - stat.size, shown);
            if (!writeOptions?.append) await file.truncate(0);
            await file.write(data, 0, data.byteLength, writeOptions?.append ? null : 0);
            if (!existed && options.owner) await file.chown(options.owner.uid, options.owner.gid);
            return { path: shown, size: finalSize, created: !existed };
          } catch (error) {
            if (!existed) await unlink(hostPath).catch(() => undefined);
            throw error;
          } finally {
            await file.close();
          }
        } finally {
          await closeAll(walked.dirs);
        }
      });
    },

    async delete(orgId, path) {
      const segments = parseWorkspacePath(path);
      if (segments.length === 0) throw new WorkspaceError("invalid_path", `refusing to delete ${WORKSPACE_MOUNT} itself`);
      const walked = await walk(orgId, segments, { followLast: false, createParents: false, openLast: false });
      try {
        const last = walked.last as string;
        const shown = displayPath([...walked.names, last]);
        const hostPath = `/proc/self/fd/${walked.dirs[walked.dirs.length - 1].fd}/${last}`;
        const stat = await lstat(hostPath).catch(() => null);
        if (!stat) throw new WorkspaceError("not_found", `${shown} does not exist`);
        if (stat.isDirectory()) {
          await rmdir(hostPath).catch((error: NodeJS.ErrnoException) => {
            if (error.code === "ENOTEMPTY" || error.code === "EEXIST") {
              throw new WorkspaceError("not_empty", `${shown} is a directory that is not empty`);
            }
            throw error;
          });
        } else {
          await unlink(hostPath);
        }
      } finally {
        await closeAll(walked.dirs);
      }
    },

    usage: usageOf,

    async removeWorkspace(orgId) {
      // Under the org's write lock, so no write of the org lands in a directory being removed.
      // rm does not follow symlinks: one pointing out of the workspace goes, its target stays.
      const dir = workspaceDir(options.dataDir, orgId);
      await withLock(orgId, () => rm(dir, { recursive: true, force: true }));
    },
  };
}

/** Opens the last component under an open directory without ever following a symlink. */
async function openFinal(parent: FileHandle, name: string, flags: number, segments: string[]): Promise<FileHandle> {
  // O_NONBLOCK: a FIFO planted by a command must not hang the gateway.
  const all = flags | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  return open(`/proc/self/fd/${parent.fd}/${name}`, all, 0o644).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ELOOP") throw refused(segments, "the path changed while resolving");
    if (error.code === "ENOENT") throw new WorkspaceError("not_found", `${displayPath(segments)} does not exist`);
    if (error.code === "EISDIR") throw new WorkspaceError("not_a_file", `${displayPath(segments)} is a directory`);
    if (error.code === "ENXIO") throw new WorkspaceError("not_a_file", `${displayPath(segments)} is not a regular file`);
    throw error;
  });
}

/** Apparent size of the regular files under a directory, symlinks not followed. */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(full);
    else if (entry.isFile()) total += (await lstat(full).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

async function closeAll(handles: FileHandle[]): Promise<void> {
  await Promise.all(handles.map((handle) => handle.close().catch(() => undefined)));
}

function refused(segments: string[], why: string): WorkspaceError {
  return new WorkspaceError("invalid_path", `refused path ${JSON.stringify(displayPath(segments))}: ${why}`);
}
