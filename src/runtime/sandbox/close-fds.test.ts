import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const script = new URL("./close-fds.sh", import.meta.url).pathname;
const root = new URL("../../..", import.meta.url).pathname;

/** Runs `bash close-fds.sh <low> ls -l /proc/self/fd` with extra descriptors open at 3 and 100. */
function listDescriptors(low: number): Promise<string[]> {
  const fd = openSync(join(tmpdir(), `openpaw-close-fds-${process.pid}.log`), "a");
  try {
    const stdio = ["ignore", "pipe", "pipe", fd, ...Array<"ignore">(96).fill("ignore"), fd] as const;
    const child = spawn("/bin/bash", [script, String(low), "ls", "/proc/self/fd"], { stdio: [...stdio] });
    let out = "";
    child.stdout?.on("data", (chunk) => (out += chunk));
    return new Promise((resolve) =>
      child.on("close", () =>
        resolve(
          out
            .trim()
            .split("\n")
            .sort((a, b) => Number(a) - Number(b)),
        ),
      ),
    );
  } finally {
    closeSync(fd);
  }
}

describe("close-fds.sh", () => {
  it("closes every descriptor from the given one up before running the command", async () => {
    // ls lists its own descriptor on /proc/self/fd too: 3, once the inherited 3 is closed.
    expect(await listDescriptors(3)).toEqual(["0", "1", "2", "3"]);
    expect(await listDescriptors(4)).toEqual(["0", "1", "2", "3", "4"]);
  });

  it("is how the Docker image starts the gateway", () => {
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^CMD \["bash", "src\/runtime\/sandbox\/close-fds\.sh", "3", "node", /m);
  });
});
