/**
 * Org secrets at rest (MCP server headers, channel tokens and webhook URLs): AES-256-GCM under
 * OPENPAW_SECRET_KEY, through WebCrypto so the core stays portable.
 *
 * Format: `v1.<iv>.<ciphertext+tag>` (base64url), a random 12-byte IV per value. The record's id
 * is bound as additional data, so a ciphertext copied into another row (or org) fails to decrypt.
 */

/** Shown when a secret must be stored but the deployment has no key. */
export const MISSING_SECRET_KEY_MESSAGE =
  "This deployment has no OPENPAW_SECRET_KEY, so it cannot store secrets. Generate one with `openssl rand -base64 32`, set it in the gateway's environment and restart.";

const VERSION = "v1";

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

async function importKey(key: Uint8Array): Promise<CryptoKey> {
  if (key.byteLength !== 32) throw new Error("The secret key must be 32 bytes.");
  return crypto.subtle.importKey("raw", new Uint8Array(key), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/** Encrypts `plaintext` under `key`, bound to `context` (the owning record's id). */
export async function encryptSecret(key: Uint8Array, plaintext: string, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) },
    await importKey(key),
    new TextEncoder().encode(plaintext),
  );
  return `${VERSION}.${b64url(iv)}.${b64url(new Uint8Array(sealed))}`;
}

/** Decrypts a value of `encryptSecret`; throws when the key, the context or the bytes do not match. */
export async function decryptSecret(key: Uint8Array, payload: string, context: string): Promise<string> {
  const [version, iv, sealed] = payload.split(".");
  if (version !== VERSION || !iv || !sealed) throw new Error("Unrecognised secret format.");
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: Buffer.from(iv, "base64url"), additionalData: new TextEncoder().encode(context) },
      await importKey(key),
      Buffer.from(sealed, "base64url"),
    );
    return new TextDecoder().decode(plain);
  } catch {
    // WebCrypto's OperationError says nothing useful; this says what to check.
    throw new Error("Could not decrypt a stored secret: OPENPAW_SECRET_KEY differs from the key it was stored under.");
  }
}

/** How a stored secret is shown: never the value, only its last four characters. */
export function maskSecret(value: string): string {
  return `••••${value.length >= 8 ? value.slice(-4) : ""}`;
}
