const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Random bytes drawn in 4 KiB batches: one system call per many ids instead of one per id. */
const pool = new Uint8Array(4096);
let poolOffset = pool.length;

function randomByte(): number {
  if (poolOffset === pool.length) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++];
}

/** A random base62 string; bytes of 248..255 are skipped so every character is equally likely (248 = 62 × 4). */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    const b = randomByte();
    if (b < 248) out += BASE62[b % 62];
  }
  return out;
}

/** Encodes bytes as a big base62 number, left-padded to a fixed width for the byte count. */
export function bytesToBase62(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = "";
  while (n > 0n) {
    out = BASE62[Number(n % 62n)] + out;
    n /= 62n;
  }
  const width = Math.ceil((bytes.length * 8) / Math.log2(62));
  return out.padStart(width, "0");
}

export { BASE62 };

export type IdPrefix =
  | "org"
  | "usr"
  | "ag"
  | "skl"
  | "key"
  | "conv"
  | "run"
  | "usg"
  | "dom"
  | "mcp"
  | "ch"
  | "req"
  | "msg"
  | "mem"
  | "evt"
  | "ses"
  | "sch"
  | "wh"
  | "whd";

/** A new id with its type prefix, e.g. `ag_4f9Kq...` (20 base62 chars ≈ 119 bits). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase62(20)}`;
}
