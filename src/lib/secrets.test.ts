import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptSecret, encryptSecret, maskSecret } from "./secrets";

describe("secrets at rest", () => {
  const key = new Uint8Array(randomBytes(32));

  it("round-trips, with a fresh IV each time, in the versioned format", async () => {
    const one = await encryptSecret(key, "xoxb-very-secret", "ch_1");
    const two = await encryptSecret(key, "xoxb-very-secret", "ch_1");
    expect(one).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(one).not.toBe(two);
    expect(one).not.toContain("very-secret");
    expect(await decryptSecret(key, one, "ch_1")).toBe("xoxb-very-secret");
  });

  it("fails under another key, another record's id, or tampered bytes", async () => {
    const sealed = await encryptSecret(key, "token", "mcp_a");
    await expect(decryptSecret(new Uint8Array(randomBytes(32)), sealed, "mcp_a")).rejects.toThrow(/OPENPAW_SECRET_KEY/);
    await expect(decryptSecret(key, sealed, "mcp_b")).rejects.toThrow();
    const tampered = `${sealed.slice(0, -2)}${sealed.endsWith("A") ? "B" : "A"}A`;
    await expect(decryptSecret(key, tampered, "mcp_a")).rejects.toThrow();
    await expect(decryptSecret(key, "v0.x.y", "mcp_a")).rejects.toThrow(/format/);
  });

  it("masks to the last four characters, nothing of short values", () => {
    expect(maskSecret("Bearer abcdef1234")).toBe("••••1234");
    expect(maskSecret("short")).toBe("••••");
  });
});
