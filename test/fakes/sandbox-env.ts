import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** True when bubblewrap is installed; suites that need it warn loudly and skip otherwise. */
export const hasBwrap = existsSync("/usr/bin/bwrap");
/** True when Debian's Chromium is installed. */
export const hasChromium = existsSync("/usr/bin/chromium");

if (!hasBwrap) console.warn("\n!!! bubblewrap (/usr/bin/bwrap) is absent: sandbox suites are SKIPPED (apt-get install bubblewrap)\n");
if (!hasChromium) console.warn("\n!!! Chromium (/usr/bin/chromium) is absent: browser suites are SKIPPED (apt-get install chromium)\n");

/**
 * A throwaway data directory. It is world-traversable (0755) because when the tests run as root
 * the sandbox runs as nobody, who must be able to reach the workspace to bind-mount it.
 */
export async function tempDataDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "openpaw-sandbox-"));
  await chmod(dir, 0o755);
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
