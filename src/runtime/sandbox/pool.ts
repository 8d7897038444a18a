import type { ExecRequest, ExecResult, SandboxBackend, SandboxSession } from "./types";

export interface SandboxPoolOptions {
  backend: SandboxBackend;
  /** Live org sandboxes per gateway (default 8); more orgs wait in line. */
  maxLive?: number;
  /** A sandbox with nothing to do is put to sleep after this long (default 10 minutes). */
  idleMs?: number;
}

/** Figures for health pages and tests. */
export interface SandboxPoolStats {
  live: number;
  busy: number;
  waiting: number;
  orgs: string[];
}

/** Runs commands in per-org sandboxes, opened on demand and closed when idle. */
export interface SandboxPool {
  exec(orgId: string, request: ExecRequest): Promise<ExecResult>;
  stats(): SandboxPoolStats;
  /** Closes every session; later calls fail. */
  close(): Promise<void>;
}

interface Entry {
  orgId: string;
  session: Promise<SandboxSession>;
  /** Calls running or queued on this org's session. */
  active: number;
  lastUsed: number;
  idleTimer?: NodeJS.Timeout;
}

interface Waiter {
  orgId: string;
  resolve(entry: Entry): void;
  reject(error: Error): void;
}

/**
 * One sandbox session per org, at most `maxLive` at a time. When the pool is full, a new org
 * takes the place of the least recently used idle session at once (an idle session costs
 * nothing to wake again, so there is no reason to make anyone wait for the idle timer);
 * when every session is busy, callers wait in FIFO order.
 */
export function createSandboxPool(options: SandboxPoolOptions): SandboxPool {
  const maxLive = Math.max(1, options.maxLive ?? 8);
  const idleMs = options.idleMs ?? 10 * 60 * 1000;
  const entries = new Map<string, Entry>();
  const waiters: Waiter[] = [];
  let closed = false;

  function open(orgId: string): Entry {
    const entry: Entry = { orgId, session: options.backend.open(orgId), active: 1, lastUsed: Date.now() };
    entries.set(orgId, entry);
    entry.session.catch(() => {
      if (entries.get(orgId) === entry) entries.delete(orgId);
    });
    return entry;
  }

  function retire(entry: Entry): void {
    if (entries.get(entry.orgId) === entry) entries.delete(entry.orgId);
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    void entry.session.then((session) => session.close()).catch(() => undefined);
  }

  /** An entry for the org right now, or null when the caller has to wait. */
  function tryAcquire(orgId: string): Entry | null {
    const existing = entries.get(orgId);
    if (existing) {
      existing.active++;
      if (existing.idleTimer) clearTimeout(existing.idleTimer);
      existing.idleTimer = undefined;
      return existing;
    }
    if (entries.size >= maxLive) {
      let oldest: Entry | undefined;
      for (const entry of entries.values()) {
        if (entry.active === 0 && (!oldest || entry.lastUsed < oldest.lastUsed)) oldest = entry;
      }
      if (!oldest) return null;
      retire(oldest);
    }
    return open(orgId);
  }

  function pump(): void {
    while (waiters.length > 0) {
      const entry = tryAcquire(waiters[0].orgId);
      if (!entry) return;
      (waiters.shift() as Waiter).resolve(entry);
    }
  }

  function acquire(orgId: string, signal?: AbortSignal): Promise<Entry> {
    if (closed) return Promise.reject(new Error("the sandbox pool is closed"));
    if (waiters.length === 0) {
      const entry = tryAcquire(orgId);
      if (entry) return Promise.resolve(entry);
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const index = waiters.indexOf(waiter);
        if (index >= 0) waiters.splice(index, 1);
        reject(new Error("cancelled while waiting for a free sandbox"));
      };
      const waiter: Waiter = {
        orgId,
        resolve: (entry) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(entry);
        },
        reject,
      };
      if (signal?.aborted) return reject(new Error("cancelled while waiting for a free sandbox"));
      signal?.addEventListener("abort", onAbort, { once: true });
      waiters.push(waiter);
    });
  }

  function release(entry: Entry): void {
    entry.active--;
    entry.lastUsed = Date.now();
    if (entry.active === 0 && entries.get(entry.orgId) === entry) {
      entry.idleTimer = setTimeout(() => {
        if (entry.active === 0) {
          retire(entry);
          pump();
        }
      }, idleMs);
      entry.idleTimer.unref();
    }
    pump();
  }

  return {
    async exec(orgId, request) {
      const entry = await acquire(orgId, request.signal);
      try {
        const session = await entry.session;
        return await session.exec(request);
      } finally {
        release(entry);
      }
    },

    stats() {
      const all = [...entries.values()];
      return {
        live: all.length,
        busy: all.filter((entry) => entry.active > 0).length,
        waiting: waiters.length,
        orgs: all.map((entry) => entry.orgId),
      };
    },

    async close() {
      closed = true;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error("the sandbox pool is closed"));
      const sessions = [...entries.values()];
      entries.clear();
      await Promise.all(
        sessions.map(async (entry) => {
          if (entry.idleTimer) clearTimeout(entry.idleTimer);
          await entry.session.then((session) => session.close()).catch(() => undefined);
        }),
      );
    },
  };
}
