import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestPages, type TestPages } from "../../../test/fakes/sandbox-pages";
import { hasChromium, tempDataDir } from "../../../test/fakes/sandbox-env";
import { createWorkspaceFiles } from "../sandbox/files";
import { type BrowserToolHandle, createBrowserTool, probeBrowser } from "./browser";
import type { ToolOutput } from "./types";

describe.skipIf(!hasChromium)("browser tool", () => {
  let env: Awaited<ReturnType<typeof tempDataDir>>;
  let pages: TestPages;
  let browser: BrowserToolHandle;
  let root: string;

  beforeAll(async () => {
    env = await tempDataDir();
    pages = await startTestPages();
    const files = createWorkspaceFiles({ dataDir: env.dir, quotaBytes: () => 10 * 1024 * 1024 });
    root = await files.ensureRoot("org_a");
    browser = createBrowserTool({ files, allowlist: [pages.allow], navigationTimeoutMs: 15_000, actionTimeoutMs: 3000 });
  });

  afterAll(async () => {
    await browser?.close();
    await pages?.close();
    await env?.cleanup();
  });

  const ctx = { orgId: "org_a", agentId: "ag_1", runId: "run_1", conversationId: "conv_1", signal: new AbortController().signal };
  async function call(input: Record<string, string>, runId = "run_1"): Promise<ToolOutput> {
    const out = await browser.tool.execute(browser.tool.input.parse(input), { ...ctx, runId });
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
});

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
