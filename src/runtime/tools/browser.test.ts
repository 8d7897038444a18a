import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestPages, type TestPages } from "../../../test/fakes/sandbox-pages";
import { hasBwrap, hasChromium, tempDataDir } from "../../../test/fakes/sandbox-env";
import type { BrowserSandbox } from "../sandbox/browser-sandbox";
import { createWorkspaceFiles } from "../sandbox/files";
import { type BrowserToolHandle, createBrowserTool, probeBrowser } from "./browser";
import type { ToolOutput } from "./types";

describe.skipIf(!hasChromium || !hasBwrap)("browser tool", () => {
  let env: Awaited<ReturnType<typeof tempDataDir>>;
  let pages: TestPages;
  let browser: BrowserToolHandle;
  let root: string;
  let files: ReturnType<typeof createWorkspaceFiles>;

  beforeAll(async () => {
    env = await tempDataDir();
    pages = await startTestPages();
    files = createWorkspaceFiles({ dataDir: env.dir, quotaBytes: () => 10 * 1024 * 1024 });
    root = await files.ensureRoot("org_a");
    browser = createBrowserTool({ files, dataDir: env.dir, allowlist: [pages.allow], navigationTimeoutMs: 15_000, actionTimeoutMs: 3000 });
  });

  afterAll(async () => {
    await browser?.close();
    await files?.close();
    await pages?.close();
    await env?.cleanup();
  });

  const ctx = { orgId: "org_a", agentId: "ag_1", runId: "run_1", conversationId: "conv_1", signal: new AbortController().signal };
  async function call(input: Record<string, string>, runId = "run_1", orgId = "org_a"): Promise<ToolOutput> {
    const out = await browser.tool.execute(browser.tool.input.parse(input), { ...ctx, runId, orgId });
    return typeof out === "string" ? { content: out } : out;
  }

  it("navigates an allowlisted page and blocks its requests to a private address", async () => {
    const out = await call({ action: "navigate", url: pages.url });
    expect(out.isError).toBeFalsy();
    expect(out.content).toContain('Title: "OpenPaw test page"');
    expect(out.content).toMatch(/Blocked \d request\(s\) to private or reserved addresses/);
    expect(out.content).toContain(`${pages.privateUrl}/pixel.png`);
    expect(pages.privateHits()).toEqual([]);
  });

  it("extracts the readable text", async () => {
    const out = await call({ action: "extract" });
    expect(out.content).toContain("Quarterly report");
    expect(out.content).toContain("revenue grew by forty-two percent");
    expect(out.content).not.toContain("Home | About");
  });

  it("types, clicks a button that changes the text, and evaluates", async () => {
    expect((await call({ action: "type", selector: "#name", text: "Ada" })).content).toBe("Typed 3 characters into #name.");
    expect((await call({ action: "click", selector: "#go" })).content).toMatch(/^Clicked #go/);
    expect((await call({ action: "evaluate", script: "document.getElementById('status').textContent" })).content).toBe('"Clicked Ada"');
  });

  it("saves a screenshot into the workspace", async () => {
    const out = await call({ action: "screenshot" });
    expect(out.content).toMatch(/Saved a 1280x800 PNG screenshot .* to \/workspace\/screenshots\/run_1-1.png/);
    const png = await readFile(join(root, "screenshots", "run_1-1.png"));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  it("refuses navigation to private addresses, other schemes and redirects into them", async () => {
    const direct = await call({ action: "navigate", url: `${pages.privateUrl}/secret` });
    expect(direct).toMatchObject({ isError: true, content: expect.stringContaining("private or reserved address") });
    for (const url of ["http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://0x7f000001/", "file:///etc/passwd"]) {
      expect((await call({ action: "navigate", url })).isError).toBe(true);
    }
    const redirected = await call({ action: "navigate", url: `${pages.url}/redirect` });
    expect(redirected).toMatchObject({ isError: true, content: expect.stringContaining("private or reserved address") });
    const fetched = await call({
      action: "evaluate",
      script: `fetch(${JSON.stringify(`${pages.privateUrl}/xhr`)}).then(() => "reached", () => "failed")`,
    });
    expect(fetched.content).toContain('"failed"');
    expect(pages.privateHits()).toEqual([]);
  });

  it("keeps one context per run and closes it at run end", async () => {
    await call({ action: "navigate", url: pages.url }, "run_2");
    await call({ action: "evaluate", script: "localStorage.setItem('k', 'v')" }, "run_2");
    await call({ action: "navigate", url: pages.url }, "run_3");
    expect((await call({ action: "evaluate", script: "localStorage.getItem('k')" }, "run_3")).content).toBe("null");
    expect((await call({ action: "evaluate", script: "localStorage.getItem('k')" }, "run_2")).content).toBe('"v"');
    await browser.closeRun("run_2");
    expect((await call({ action: "evaluate", script: "location.href" }, "run_2")).content).toBe('"about:blank"');
    await browser.closeRun("run_2");
    await browser.closeRun("run_3");
  });

  describe("its sandbox", () => {
    beforeAll(async () => {
      // Two orgs' browsers at once: org_a's from the tests above, and org_b's.
      for (const orgId of ["org_a", "org_b"])
        expect((await call({ action: "navigate", url: pages.url }, `run_${orgId}`, orgId)).content).toContain("OpenPaw test page");
    }, 90_000);

    const evaluate = async (orgId: string, script: string) => (await call({ action: "evaluate", script }, `run_${orgId}`, orgId)).content;

    it("runs every Chromium process as the sandbox's user, in network and mount namespaces of its own", () => {
      const processes = chromiumsOf(process.pid);
      expect(processes.length).toBeGreaterThanOrEqual(2);
      for (const pid of processes) {
        if (process.getuid?.() === 0) expect(uidOf(pid), `pid ${pid}`).toBe(65534);
        else expect(uidOf(pid)).toBe(process.getuid?.());
        expect(readlinkSync(`/proc/${pid}/ns/net`)).not.toBe(readlinkSync("/proc/self/ns/net"));
        expect(readlinkSync(`/proc/${pid}/ns/mnt`)).not.toBe(readlinkSync("/proc/self/ns/mnt"));
        expect(readFileSync(`/proc/${pid}/environ`, "utf8")).not.toMatch(/OPENPAW_|ANTHROPIC|STRIPE/);
      }
    });

    it("gives each browser only its own proxy socket: another org's is not in its file system", () => {
      const sockets = browser.sandboxes();
      const a = sockets.get("org_a")?.socketPath as string;
      const b = sockets.get("org_b")?.socketPath as string;
      expect(a && b && a !== b).toBeTruthy();
      const inode = (path: string) => statSync(path).ino;
      const seen = new Set<number>();
      for (const pid of chromiumsOf(process.pid)) {
        // The sandbox's view of its file system, from the host.
        const own = statSync(`/proc/${pid}/root/run/openpaw/egress.sock`).ino;
        seen.add(own);
        for (const host of [a, b, env.dir]) expect(() => statSync(`/proc/${pid}/root${host}`), `${pid} sees ${host}`).toThrow();
      }
      expect([...seen].sort()).toEqual([inode(a), inode(b)].sort());
    });

    it("has the proxy refuse anyone without this browser's own credentials", async () => {
      const a = browser.sandboxes().get("org_a") as BrowserSandbox;
      const b = browser.sandboxes().get("org_b") as BrowserSandbox;
      const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
      const via = (socketPath: string, authorization?: string) =>
        new Promise<number>((resolve, reject) => {
          const req = request(
            {
              socketPath,
              path: `${pages.url}/`,
              headers: { host: pages.allow, ...(authorization ? { "proxy-authorization": authorization } : {}) },
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on("error", reject);
          req.end();
        });
      expect(await via(a.socketPath)).toBe(407);
      expect(await via(a.socketPath, basic(b.launch.proxy.username, b.launch.proxy.password))).toBe(407);
      expect(await via(a.socketPath, basic(a.launch.proxy.username, a.launch.proxy.password))).toBe(200);
    });

    it("lets no page reach another browser's proxy, the host, or any address the guarded fetcher refuses", async () => {
      const targets = [
        "http://127.0.0.1:3128/", // the forwarder of every browser sandbox (its own, and org_b's number too)
        `${pages.privateUrl}/from-a-page`,
        `http://localhost:${new URL(pages.privateUrl).port}/`,
        `http://[::1]:${new URL(pages.privateUrl).port}/`,
        `http://0x7f000001:${new URL(pages.privateUrl).port}/`,
        `http://[::ffff:127.0.0.1]:${new URL(pages.privateUrl).port}/`,
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.0.1/",
        "http://[fd00::1]/",
        "http://0.0.0.0:3128/",
      ];
      const script = `Promise.all(${JSON.stringify(targets)}.map((url) => fetch(url).then((r) => url + " " + r.status, () => url + " failed")))`;
      const outcome = await evaluate("org_a", script);
      for (const target of targets) expect(outcome).not.toMatch(new RegExp(`${target.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} 2\\d\\d`));
      const socket = await evaluate(
        "org_a",
        `new Promise((resolve) => { const ws = new WebSocket("ws://127.0.0.1:${new URL(pages.privateUrl).port}/"); ws.onopen = () => resolve("open"); ws.onerror = () => resolve("refused"); })`,
      );
      expect(socket).toContain("refused");
      expect(pages.privateHits()).toEqual([]);
    });
  });
});

/** Host pids of the processes named chromium that descend from `ancestor`. */
function chromiumsOf(ancestor: number): number[] {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      parents.set(Number(entry), Number(stat.slice(close + 2).split(" ")[1]));
      names.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")[0]);
    } catch {
      // gone meanwhile
    }
  }
  const descends = (pid: number): boolean => {
    for (let at = parents.get(pid); at !== undefined && at > 1; at = parents.get(at)) if (at === ancestor) return true;
    return false;
  };
  return [...names].filter(([pid, name]) => /chrom/.test(name) && descends(pid)).map(([pid]) => pid);
}

function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
}

describe("probeBrowser", () => {
  it("reports a missing Chromium as a reason, not a crash", async () => {
    expect(await probeBrowser("/nonexistent/chromium")).toEqual({
      ok: false,
      reason: "Chromium is not installed (/nonexistent/chromium is missing)",
    });
  });

  it.skipIf(!hasChromium)("passes with the installed Chromium", async () => {
    expect(await probeBrowser()).toEqual({ ok: true });
  });
});
