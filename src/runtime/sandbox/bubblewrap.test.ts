import { readdirSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasBwrap, tempDataDir } from "../../../test/fakes/sandbox-env";
import { createBubblewrapBackend, probeSandbox, sandboxOwnerFor } from "./bubblewrap";
import { createWorkspaceFiles } from "./files";
import type { SandboxSession } from "./types";

const owner = sandboxOwnerFor(process.getuid?.() ?? 1000);
const SECRET = `gateway-secret-${Math.random().toString(36).slice(2)}`;

describe.skipIf(!hasBwrap)("bubblewrap sandbox", () => {
  let env: Awaited<ReturnType<typeof tempDataDir>>;
  let orgA: SandboxSession;
  let server: Server;
  let port: number;
  let connections = 0;

  beforeAll(async () => {
    process.env.OPENPAW_TEST_GATEWAY_SECRET = SECRET;
    env = await tempDataDir();
    await writeFile(join(env.dir, "openpaw.db"), "gateway database");
    const files = createWorkspaceFiles({ dataDir: env.dir, quotaBytes: () => 64 * 1024 * 1024, owner });
    await files.write("org_b", "secret.txt", new TextEncoder().encode("org b secret"));
    const backend = createBubblewrapBackend({
      dataDir: env.dir,
      workspaces: files,
      runAs: owner,
      limits: { fileBytes: 16 * 1024 * 1024, processes: 64, memoryBytes: 1024 * 1024 * 1024 },
    });
    expect(await backend.probe()).toEqual({ ok: true });
    orgA = await backend.open("org_a");
    server = createServer((socket) => {
      connections++;
      socket.end("hello from the host\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    delete process.env.OPENPAW_TEST_GATEWAY_SECRET;
    await orgA?.close();
    server?.close();
    await env?.cleanup();
  });

  const run = (command: string, timeoutMs = 10_000) => orgA.exec({ command, timeoutMs });

  it("runs sh -c in /workspace as an unprivileged user and reports the exit code", async () => {
    const result = await run("pwd; id -u; echo err >&2; exit 3");
    expect(result).toMatchObject({ exitCode: 3, stdout: "/workspace\n1000\n", stderr: "err\n", killed: null });
  });

  it("shows a generated /etc/passwd, not the host's", async () => {
    const host = readFileSync("/etc/passwd", "utf8");
    const result = await run("cat /etc/passwd; ls /etc");
    expect(result.stdout).toContain("sandbox:x:1000:1000");
    expect(result.stdout).not.toContain("root:x:0:0");
    expect(result.stdout).not.toContain(host.split("\n")[0]);
  });

  it("leaks no environment of the gateway, not even through /proc/1/environ", async () => {
    expect(process.env.OPENPAW_TEST_GATEWAY_SECRET).toBe(SECRET);
    const result = await run("env; cat /proc/1/environ; for p in /proc/[0-9]*; do cat $p/environ; done 2>/dev/null; echo END");
    expect(result.stdout).toContain("END");
    expect(result.stdout).toContain("HOME=/workspace");
    expect(result.stdout).not.toContain(SECRET);
  });

  it("cannot see the data directory, another org's workspace or the host's processes", async () => {
    const result = await run(
      `cat ${join(env.dir, "openpaw.db")}; ls ${join(env.dir, "workspaces")}; cat ${join(env.dir, "workspaces/org_b/secret.txt")}; ls /workspace/..; ls /proc | grep -c '^[0-9]'`,
    );
    expect(result.stdout + result.stderr).not.toContain("gateway database");
    expect(result.stdout + result.stderr).not.toContain("org b secret");
    expect(result.stderr).toContain("No such file or directory");
    expect(result.stdout).not.toContain("org_b");
    // Only the sandbox's own processes (bwrap's init, sh, ls, grep) are visible.
    expect(Number(result.stdout.trim().split("\n").pop())).toBeLessThan(8);
  });

  it("has no network: loopback of the host and name lookups are out of reach", async () => {
    const node = `node -e "require('net').connect(${port},'127.0.0.1').on('connect',()=>console.log('CONNECTED')).on('error',e=>console.log('node',e.code))"`;
    const py = `python3 -c "
import socket
try:
    socket.create_connection(('127.0.0.1', ${port}), timeout=2); print('CONNECTED')
except OSError as e: print('python', type(e).__name__)
try:
    socket.getaddrinfo('example.com', 80); print('RESOLVED')
except OSError as e: print('dns', type(e).__name__)
"`;
    const result = await run(
      `${node}; ${py}; node -e "require('dns').lookup('example.com',(e,a)=>console.log(e?'nodedns '+e.code:'RESOLVED '+a))"`,
    );
    expect(result.stdout).toContain("node ECONNREFUSED");
    expect(result.stdout).toContain("python ConnectionRefusedError");
    expect(result.stdout).toMatch(/dns gaierror/);
    expect(result.stdout).toMatch(/nodedns E/);
    expect(result.stdout).not.toContain("CONNECTED");
    expect(result.stdout).not.toContain("RESOLVED");
    expect(connections).toBe(0);
  });

  it("keeps the system read-only and /tmp private to one call", async () => {
    const first = await run("touch /usr/x /x /etc/x 2>&1 | grep -c 'Read-only'; echo hi > /tmp/note; cat /tmp/note");
    expect(first.stdout).toBe("3\nhi\n");
    const second = await run("cat /tmp/note 2>&1 || true");
    expect(second.stdout).toContain("No such file");
  });

  it("passes on no descriptor of the gateway: every process inside holds only its stdio", async () => {
    // The test runner's own channel is open in this process without O_CLOEXEC, as a supervisor's pipe would be.
    const result = await run("ls -l /proc/[0-9]*/fd");
    const held: string[] = [];
    let pid = "";
    for (const line of result.stdout.split("\n")) {
      const header = /^\/proc\/(\d+)\/fd:$/.exec(line);
      if (header) pid = header[1];
      const entry = / (\d+) -> (.*)$/.exec(line);
      if (entry && Number(entry[1]) > 2) held.push(`${pid}: ${entry[1]} -> ${entry[2]}`);
    }
    expect(result.stdout).toContain("/proc/1/fd:");
    // Above 2, only bwrap's own event descriptor (its init, PID 1) and ls's listing of /proc/<pid>/fd.
    expect(held.filter((line) => !/anon_inode:\[eventfd\]$/.test(line) && !/\/proc\/\d+\/fd$/.test(line))).toEqual([]);
  });

  it("bounds every writable place: /dev read-only, /dev/shm and /tmp small, the rest read-only", async () => {
    const mounts = await run("cat /proc/self/mountinfo");
    const writable = mounts.stdout
      .trim()
      .split("\n")
      .map((line) => line.split(" "))
      .filter((fields) => fields[5].split(",").includes("rw"))
      .map((fields) => {
        const rest = fields.slice(fields.indexOf("-") + 1);
        return { at: fields[4], type: rest[0], options: rest[2] };
      });
    const devices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"];
    for (const mount of writable) {
      if (devices.includes(mount.at) || mount.at === "/dev/pts" || mount.at === "/workspace" || mount.type === "proc") continue;
      expect([mount.at, mount.type]).toSatisfy(([at, type]: string[]) => (at === "/tmp" || at === "/dev/shm") && type === "tmpfs");
      expect(mount.options).toMatch(mount.at === "/tmp" ? /size=65536k/ : /size=16384k/);
    }
    const tries = await run(
      [
        // Several files each under the file-size limit: the mount's size is what stops them.
        "for i in 1 2; do head -c 15M /dev/zero > /dev/shm/a$i 2>/dev/null; done; echo shm=$(cat /dev/shm/a* | wc -c)",
        "for i in 1 2 3 4 5; do head -c 15M /dev/zero > /tmp/a$i 2>/dev/null; done; echo tmp=$(cat /tmp/a* | wc -c)",
        "for p in /dev/x /x /etc/x /usr/x /proc/x /opt/x; do touch $p 2>/dev/null && echo wrote $p; done",
        "echo done",
      ].join("; "),
      20_000,
    );
    const stored = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(tries.stdout)?.[1]);
    expect(stored("shm")).toBeGreaterThan(15 * 1024 * 1024);
    expect(stored("shm")).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect(stored("tmp")).toBeGreaterThan(60 * 1024 * 1024);
    expect(stored("tmp")).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(tries.stdout).not.toContain("wrote");
    expect(tries.stdout).toContain("done");
  });

  it("shows no host path in its mount table but the workspace's own (generated files come from memory)", async () => {
    const mounts = (await run("cat /proc/self/mountinfo")).stdout.trim().split("\n");
    const leaking = mounts.filter((line) => line.includes(env.dir) && line.split(" ")[4] !== "/workspace");
    expect(leaking).toEqual([]);
  });

  it("kills an infinite loop and everything it started at the wall-clock limit", async () => {
    const marker = 40000 + Math.floor(Math.random() * 9999);
    const result = await run(`sleep ${marker} & while :; do :; done`, 1500);
    expect(result.killed).toBe("timeout");
    expect(result.durationMs).toBeLessThan(5000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hostProcessesWith(`sleep ${marker}`)).toEqual([]);
  });

  it("stops a fork bomb with the process limit and the timeout", async () => {
    const marker = 50000 + Math.floor(Math.random() * 9999);
    const started = Date.now();
    const result = await run(`sleep ${marker} & bomb() { bomb | bomb & }; bomb; sleep 2; echo survived`, 4000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.stderr).toContain("Cannot fork");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hostProcessesWith(`sleep ${marker}`)).toEqual([]);
    // The gateway can still start processes and sandboxes.
    expect((await run("echo alive")).stdout).toBe("alive\n");
  });

  it("stops a memory hog with the address-space limit", async () => {
    const result = await run("python3 -c 'b = bytearray(4 * 1024 ** 3); print(len(b))'");
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain("MemoryError");
    expect(process.memoryUsage().rss).toBeLessThan(1024 ** 3);
  });

  it("stops a 10 GB file at the file-size limit", async () => {
    const result = await run("head -c 10G /dev/zero > big.bin; echo status=$?; stat -c %s big.bin; rm big.bin", 30_000);
    expect(result.killed).toBeNull();
    expect(result.stdout).toMatch(/status=[1-9]/);
    expect(Number(result.stdout.trim().split("\n")[1])).toBeLessThanOrEqual(16 * 1024 * 1024);
  });

  it("caps output, counting what was dropped", async () => {
    const result = await orgA.exec({ command: "head -c 100000 /dev/zero | tr '\\0' x", timeoutMs: 5000, maxOutputBytes: 1000 });
    expect(result.stdout.length).toBe(1000);
    expect(result.stdoutBytes).toBe(100000);
  });

  it("kills the command when its signal aborts", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const result = await orgA.exec({ command: "sleep 30", timeoutMs: 20_000, signal: controller.signal });
    expect(result.killed).toBe("aborted");
    expect(result.durationMs).toBeLessThan(3000);
  });
});

describe("probeSandbox", () => {
  it("reports why when bwrap cannot run", async () => {
    const env = await tempDataDir();
    try {
      const result = await probeSandbox({ dataDir: env.dir, bwrapPath: "/nonexistent/bwrap" });
      expect(result.ok).toBe(false);
      expect(result.ok ? "" : result.reason).toMatch(/bubblewrap cannot start a sandbox: .*ENOENT/);
    } finally {
      await env.cleanup();
    }
  });

  it.skipIf(!hasBwrap)("passes with the real bwrap", async () => {
    const env = await tempDataDir();
    try {
      expect(await probeSandbox({ dataDir: env.dir, runAs: owner })).toEqual({ ok: true });
    } finally {
      await env.cleanup();
    }
  });
});

/** Host processes whose command line contains `needle`. */
function hostProcessesWith(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      if (cmdline === needle) found.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
