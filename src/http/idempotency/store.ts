import type { Kysely } from "kysely";
import type { Database } from "../../db/schema";
import { decryptSecret, encryptSecret } from "../../lib/secrets";

/** What a first response leaves for its replays. */
export interface StoredResponse {
  status: number;
  headers: [string, string][];
  /** The body as text (JSON routes); empty for a stream, which is not replayed. */
  body: string;
}

export type Lookup =
  | { kind: "new" }
  | { kind: "mismatch" }
  | { kind: "running" }
  | { kind: "done"; response: StoredResponse }
  | { kind: "stream"; response: StoredResponse };

const encoder = new TextEncoder();

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** The row id and the sealing key of one (scope, Idempotency-Key): neither reveals the key. */
export interface KeyRef {
  id: string;
  sealKey: Uint8Array;
}

export async function keyRef(scope: string, idempotencyKey: string): Promise<KeyRef> {
  const [id, sealKey] = await Promise.all([
    sha256(`openpaw idempotency id\0${scope}\0${idempotencyKey}`),
    sha256(`openpaw idempotency seal\0${scope}\0${idempotencyKey}`),
  ]);
  return { id: hex(id), sealKey };
}

export async function requestHash(method: string, url: string, body: ArrayBuffer): Promise<string> {
  const head = encoder.encode(`${method}\n${url}\n`);
  const all = new Uint8Array(head.byteLength + body.byteLength);
  all.set(head, 0);
  all.set(new Uint8Array(body), head.byteLength);
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", all)));
}

/**
 * Idempotency rows in the database (both dialects), so a retry that lands on another replica
 * finds the first attempt. Claiming is an insert on the primary key: of two concurrent
 * duplicates exactly one wins, wherever they run.
 */
export class IdempotencyStore {
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    readonly options: {
      /** How long a key replays its first response. */
      ttlMs: number;
      /** A claim this old with no response is taken to be a gateway that died mid-request. */
      abandonedMs: number;
    },
  ) {}

  /** Claims the key for this request, or says what the first request with it left. */
  async begin(ref: KeyRef, hash: string, now = Date.now()): Promise<Lookup> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const inserted = await this.db
        .insertInto("idempotency_requests")
        .values({ id: ref.id, request_hash: hash, state: "running", response: null, created_at: now })
        .onConflict((oc) => oc.column("id").doNothing())
        .returning("id")
        .executeTakeFirst();
      if (inserted) return { kind: "new" };
      const row = await this.db.selectFrom("idempotency_requests").selectAll().where("id", "=", ref.id).executeTakeFirst();
      if (!row) continue; // pruned in between: claim again
      const created = Number(row.created_at);
      const stale = created < now - this.options.ttlMs || (row.state === "running" && created < now - this.options.abandonedMs);
      if (stale) {
        // Only the row we saw, so two takers cannot both delete a fresh claim.
        await this.db.deleteFrom("idempotency_requests").where("id", "=", ref.id).where("created_at", "=", row.created_at).execute();
        continue;
      }
      if (row.request_hash !== hash) return { kind: "mismatch" };
      if (row.state === "running" || row.response === null) return { kind: "running" };
      const response = JSON.parse(await decryptSecret(ref.sealKey, row.response, ref.id)) as StoredResponse;
      return row.state === "stream" ? { kind: "stream", response } : { kind: "done", response };
    }
    return { kind: "running" };
  }

  /** Records the first response (sealed); replays of the key answer it. */
  async complete(ref: KeyRef, state: "done" | "stream", response: StoredResponse): Promise<void> {
    const sealed = await encryptSecret(ref.sealKey, JSON.stringify(response), ref.id);
    await this.db
      .updateTable("idempotency_requests")
      .set({ state, response: sealed })
      .where("id", "=", ref.id)
      .where("state", "=", "running")
      .execute();
  }

  /** Gives the key up (the request failed in a way a retry should redo). */
  async release(ref: KeyRef): Promise<void> {
    await this.db.deleteFrom("idempotency_requests").where("id", "=", ref.id).where("state", "=", "running").execute();
  }

  /** Deletes expired rows; returns how many. */
  async prune(now = Date.now()): Promise<number> {
    const result = await this.db.deleteFrom("idempotency_requests").where("created_at", "<", now - this.options.ttlMs).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Prunes every `everyMs` (unref'd timer) until `stop`. */
  start(everyMs: number, onError: (error: unknown) => void): void {
    this.timer ??= setInterval(() => this.prune().catch(onError), everyMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
