/**
 * A sandbox for one Chromium: the same bubblewrap layout as a command's (bwrap.ts), as the
 * sandbox's unprivileged user, with its own network namespace in which the only way out is this
 * browser's egress proxy (a unix socket mounted in, reached through browser-launcher.ts), which
 * takes only this browser's credentials. See docs/sandbox.md, "Browser".
 *
 * Playwright launches Chromium itself (it needs the pipe on descriptors 3 and 4), so what it is
 * given as the executable is browser-sandbox.sh, copied into a directory of this browser's own
 * with the files it hands to bwrap.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, realpathSync } from "node:fs";
import { chmod, chown, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { nodeBinary, prepareSandboxDirs, type SandboxLayout, type SandboxUser, sandboxArgs, sandboxUserFor, withLimits } from "./bwrap";
import { type EgressPolicyOptions, type EgressProxy, startEgressProxy } from "./egress-proxy";
import { sandboxProgram } from "./programs";
import { projectFile } from "../../lib/project-files";

export interface BrowserSandboxOptions {
  dataDir: string;
  chromiumPath: string;
  policy: EgressPolicyOptions;
  /** Host user Chromium runs as; by default sandboxUserFor(the gateway's uid). */
  runAs?: SandboxUser;
  bwrapPath?: string;
  prlimitPath?: string;
  setprivPath?: string;
  /** Chromium keeps its profile and shared memory (--disable-dev-shm-usage) in /tmp. */
  tmpBytes?: number;
  shmBytes?: number;
}

/** A prepared browser sandbox: what Playwright's launch() needs, and the cleanup. */
export interface BrowserSandbox {
  launch: {
    executablePath: string;
    env: Record<string, string>;
    /** The proxy as Chromium sees it (the forwarder inside), with this browser's credentials. */
    proxy: { server: string; username: string; password: string };
  };
  /** The egress proxy's socket on the host. */
  socketPath: string;
  proxy: EgressProxy;
  /** Stops the proxy and removes the browser's directory. */
  dispose(): Promise<void>;
}

const WRAPPER_SCRIPT = readFileSync(projectFile("src/runtime/sandbox/browser-sandbox.sh"), "utf8");
const LAUNCHER_PATH = "/opt/openpaw/browser-launcher.mjs";
const SOCKET_INSIDE = "/run/openpaw/egress.sock";
/** Inside the browser's own network namespace, so the same port for every browser. */
const FORWARDER_PORT = 3128;
/** bwrap's arguments come on descriptor 5 (browser-sandbox.sh); its in-memory files from 6 on. */
const FIRST_DATA_FD = 6;

/** A NUL-terminated list, as `bwrap --args` and bash's `mapfile -d ''` read it. */
const nulList = (items: string[]) => items.map((item) => `${item}\0`).join("");

export async function prepareBrowserSandbox(options: BrowserSandboxOptions): Promise<BrowserSandbox> {
  const runAs = options.runAs ?? sandboxUserFor(process.getuid?.() ?? -1);
  const otherUser = runAs !== undefined && runAs.uid !== process.getuid?.();
  await prepareSandboxDirs(options.dataDir, runAs, ["sandbox", "browsers"]);
  const dir = join(options.dataDir, "sandbox", "browsers", randomBytes(12).toString("base64url"));
  // The gateway's own directory (the sandbox's user may only pass through it to reach the socket);
  // the files in it are the gateway's alone, read by browser-sandbox.sh before it drops privileges.
  await mkdir(dir, { mode: otherUser ? 0o711 : 0o700 });
  const socketPath = join(dir, "egress.sock");
  const credentials = { username: "browser", password: randomBytes(24).toString("base64url") };
  let proxy: EgressProxy | undefined;
  try {
    proxy = await startEgressProxy({ ...options.policy, socketPath, credentials });
    // By path, safely: the directory is the gateway's and nobody else can put anything there.
    if (otherUser) await chown(socketPath, runAs.uid, runAs.gid);
    await chmod(socketPath, 0o600);

    const layout: SandboxLayout = {
      env: {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOME: "/tmp",
        LANG: "C.UTF-8",
        TMPDIR: "/tmp",
        XDG_CONFIG_HOME: "/tmp/.config",
        XDG_CACHE_HOME: "/tmp/.cache",
      },
      tmpBytes: options.tmpBytes ?? 256 * 1024 * 1024,
      shmBytes: options.shmBytes ?? 64 * 1024 * 1024,
      // Fonts, and Debian's launcher script reads its flags from /etc/chromium.d.
      readOnlyIfPresent: ["/etc/fonts", "/etc/chromium.d", "/etc/chromium", ...outsideUsr(options.chromiumPath)],
      files: [{ dest: LAUNCHER_PATH, content: await sandboxProgram("browser-launcher") }],
      binds: [{ source: socketPath, dest: SOCKET_INSIDE }],
      chdir: "/tmp",
    };
    const { args, data } = sandboxArgs(layout, FIRST_DATA_FD);
    // Chromium needs many threads and descriptors and reserves far more address space than it
    // uses (so no RLIMIT_AS); core dumps and huge files are still refused.
    const command = withLimits(options.prlimitPath ?? "/usr/bin/prlimit", { processes: 2048, fileBytes: 256 * 1024 * 1024, openFiles: 8192 }, [
      nodeBinary().path,
      LAUNCHER_PATH,
      SOCKET_INSIDE,
      String(FORWARDER_PORT),
      options.chromiumPath,
    ]);
    await writeFile(join(dir, "bwrap.args"), nulList(args), { mode: 0o600 });
    await writeFile(join(dir, "command"), nulList(command), { mode: 0o600 });
    for (const [index, content] of data.entries()) await writeFile(join(dir, `fd-${FIRST_DATA_FD + index}`), content, { mode: 0o600 });
    const executablePath = join(dir, "chromium");
    await writeFile(executablePath, WRAPPER_SCRIPT, { mode: 0o700 });

    const running = proxy;
    return {
      launch: {
        executablePath,
        env: {
          PATH: "/usr/bin:/bin",
          OPENPAW_BROWSER_DIR: dir,
          OPENPAW_BROWSER_USER: otherUser ? `${runAs.uid}:${runAs.gid}` : "",
          OPENPAW_BWRAP: options.bwrapPath ?? "/usr/bin/bwrap",
          OPENPAW_SETPRIV: options.setprivPath ?? "/usr/bin/setpriv",
        },
        proxy: { server: `http://127.0.0.1:${FORWARDER_PORT}`, ...credentials },
      },
      socketPath,
      proxy: running,
      async dispose() {
        await running.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await proxy?.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A Chromium installed outside /usr (which every sandbox mounts) needs its directory mounted too. */
function outsideUsr(chromiumPath: string): string[] {
  const dirs = new Set<string>();
  for (const path of [chromiumPath, safeRealpath(chromiumPath)]) {
    if (!path.startsWith("/usr/")) dirs.add(dirname(path));
  }
  return [...dirs];
}

function safeRealpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
