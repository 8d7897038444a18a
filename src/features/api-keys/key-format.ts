import { createHash } from "node:crypto";
import { BASE62, bytesToBase62 } from "../../lib/ids";

/**
 * API key format: `sk_live_` + 32 random bytes in base62 (43 chars) + a 6-char base62 CRC-32
 * checksum of everything before it, so a secret scanner can tell a real key offline
 * (the same idea as GitHub's token checksums).
 */
export const KEY_PREFIX = "sk_live_";
const BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
export const KEY_LENGTH = KEY_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH;
const KEY_PATTERN = new RegExp(`^${KEY_PREFIX}[0-9A-Za-z]{${BODY_LENGTH + CHECKSUM_LENGTH}}$`);

const crcTable = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of new TextEncoder().encode(text)) crc = crcTable[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function checksumOf(text: string): string {
  let n = crc32(text);
  let out = "";
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** A fresh API key. */
export function generateApiKey(): string {
  const body = bytesToBase62(crypto.getRandomValues(new Uint8Array(32)))
    .slice(-BODY_LENGTH)
    .padStart(BODY_LENGTH, "0");
  const head = KEY_PREFIX + body;
  return head + checksumOf(head);
}

/** True when the text has our key's shape and its checksum matches (no database needed). */
export function isWellFormedApiKey(key: string): boolean {
  if (!KEY_PATTERN.test(key)) return false;
  const head = key.slice(0, -CHECKSUM_LENGTH);
  return checksumOf(head) === key.slice(-CHECKSUM_LENGTH);
}

/**
 * SHA-256 hex of a secret token: what we store for keys and session tokens. Node's synchronous
 * hash costs microseconds where crypto.subtle's round trip through the thread pool costs a
 * quarter millisecond on every authenticated request; a Workers build swaps this one function.
 */
export async function sha256Hex(text: string): Promise<string> {
  return createHash("sha256").update(text).digest("hex");
}
