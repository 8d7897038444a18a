import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readability } from "@mozilla/readability";
import { parseHTML } from "linkedom";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { z } from "zod";
import { type BrowserSandbox, type BrowserSandboxOptions, prepareBrowserSandbox } from "../sandbox/browser-sandbox";
import type { SandboxUser } from "../sandbox/bwrap";
import { BLOCKED_HEADER, checkEgress, type EgressPolicyOptions } from "../sandbox/egress-proxy";
import type { ProbeResult, WorkspaceFiles } from "../sandbox/types";
import type { ToolContext, ToolDefinition, ToolOutput } from "./types";

/** playwright-core takes most of a second to load: only gateways whose agents browse pay for it. */
const loadChromium = async () => (await import("playwright-core")).chromium;

export interface BrowserToolOptions {
  /** Where screenshots are saved (the org's workspace, within its quota). */
  files: WorkspaceFiles;
  /** Each browser's sandbox directory (its egress socket) lives under `<dataDir>/sandbox/browsers`. */
  dataDir: string;
  executablePath?: string;
  /** Host user Chromium runs as; by default the sandbox's (nobody when the gateway is root). */
  runAs?: SandboxUser;
  bwrapPath?: string;
  /** An org's browser with no open context is closed after this long (default 60 s). */
  idleMs?: number;
  /** host[:port] entries exempt from the private-address block (OPENPAW_FETCH_ALLOWLIST). */
  allowlist?: string[];
  lookup?: EgressPolicyOptions["lookup"];
  /** Limits: navigation, other actions, live contexts per gateway, pages per context, text returned. */
  navigationTimeoutMs?: number;
  actionTimeoutMs?: number;
  maxContexts?: number;
  maxPagesPerContext?: number;
  maxOutputChars?: number;
}

/** What createBrowserTool hands back: the tool, and the hooks the run loop calls. */
export interface BrowserToolHandle {
  tool: ToolDefinition<BrowserInput>;
  /** Closes the browser context of a run (its pages, cookies, storage); call at the end of every run. */
  closeRun(runId: string): Promise<void>;
  /** Closes every context, every Chromium and their egress proxies (gateway shutdown). */
  close(): Promise<void>;
  /** The sandboxes of the browsers running now, by org (for tests and health pages). */
  sandboxes(): Map<string, BrowserSandbox>;
}

const LAUNCH_ARGS = [
  // Chromium's own sandbox needs user namespaces, which its bubblewrap sandbox does not allow:
  // bubblewrap (own user, network and mount namespaces, no capabilities) is the sandbox.
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-dev-shm-usage",
  // WebRTC could reach local addresses without going through the proxy.
  "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
  "--webrtc-ip-handling-policy=disable_non_proxied_udp",
];

const input = z.object({
  action: z.enum(["navigate", "screenshot", "click", "type", "extract", "evaluate"]),
  url: z.string().optional().describe("For navigate: an http(s) URL."),
  selector: z.string().optional().describe("For click and type: a CSS or Playwright selector, e.g. `button#send` or `text=Sign in`."),
  text: z.string().optional().describe("For type: the text to fill in."),
  script: z.string().optional().describe("For evaluate: a JavaScript expression evaluated in the page; its JSON value is returned."),
});

export type BrowserInput = z.infer<typeof input>;

/** One org's Chromium, in its own sandbox with its own egress proxy; contexts are its runs. */
interface OrgBrowser {
  orgId: string;
  browser: Browser;
  sandbox: BrowserSandbox;
  contexts: number;
  idle?: NodeJS.Timeout;
}

interface RunSession {
  orgId: string;
  owner: OrgBrowser;
  context: BrowserContext;
  page: Page;
  blocked: string[];
  screenshots: number;
}

/**
 * Whether Chromium can be driven here, sandboxed as it always is: the binary exists and a headless
 * launch inside its sandbox succeeds. When it fails, offer `{ name: "browser", reason }` as an
 * UnavailableTool instead of the tool.
 */
export async function probeBrowser(
  executablePath = "/usr/bin/chromium",
  sandbox: Omit<BrowserSandboxOptions, "chromiumPath" | "policy" | "dataDir"> & { dataDir?: string } = {},
): Promise<ProbeResult> {
  if (!existsSync(executablePath)) return { ok: false, reason: `Chromium is not installed (${executablePath} is missing)` };
  const scratch = sandbox.dataDir ? undefined : await mkdtemp(join(tmpdir(), "openpaw-browser-probe-"));
  let prepared: BrowserSandbox | undefined;
  try {
    // Traversable by the sandbox's user, like a data directory (see prepareSandboxDirs).
    if (scratch) await chmod(scratch, 0o711);
    prepared = await prepareBrowserSandbox({ ...sandbox, dataDir: sandbox.dataDir ?? (scratch as string), chromiumPath: executablePath, policy: {} });
    const browser = await (await loadChromium()).launch({ ...prepared.launch, headless: true, args: LAUNCH_ARGS, timeout: 30_000 });
    await browser.close();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: `Chromium does not start in its sandbox: ${firstLine(error)}` };
  } finally {
    await prepared?.dispose();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * The `browser` tool: headless Chromium (playwright-core), one browser context per run, every
 * request of the page checked against the private-address rules twice: by route interception
 * (a readable refusal) and by an egress proxy that connects only to the address it checked.
 */
export function createBrowserTool(options: BrowserToolOptions): BrowserToolHandle {
  const executablePath = options.executablePath ?? "/usr/bin/chromium";
  const navigationTimeoutMs = options.navigationTimeoutMs ?? 30_000;
  const actionTimeoutMs = options.actionTimeoutMs ?? 10_000;
  const maxContexts = options.maxContexts ?? 4;
  const maxPages = options.maxPagesPerContext ?? 3;
  const maxChars = options.maxOutputChars ?? 20_000;
  const idleMs = options.idleMs ?? 60_000;
  const policy: EgressPolicyOptions = { allowlist: options.allowlist, lookup: options.lookup };
  const runs = new Map<string, Promise<RunSession>>();
  const browsers = new Map<string, Promise<OrgBrowser>>();
  const sandboxes = new Map<string, BrowserSandbox>();

  /** Launches the org's Chromium in a sandbox of its own, with an egress proxy only it can use. */
  async function launch(orgId: string): Promise<OrgBrowser> {
    const sandbox = await prepareBrowserSandbox({
      dataDir: options.dataDir,
      chromiumPath: executablePath,
      policy,
      runAs: options.runAs,
      bwrapPath: options.bwrapPath,
    });
    try {
      // Playwright adds <-loopback> to the bypass list, so loopback goes through the proxy too.
      const browser = await (await loadChromium()).launch({ ...sandbox.launch, headless: true, args: LAUNCH_ARGS, timeout: 30_000 });
      const entry: OrgBrowser = { orgId, browser, sandbox, contexts: 0 };
      sandboxes.set(orgId, sandbox);
      browser.on("disconnected", () => {
        clearTimeout(entry.idle);
        void browsers.get(orgId)?.then((current) => {
          if (current === entry) browsers.delete(orgId);
        });
        for (const [runId, session] of runs) {
          void session.then((s) => s.owner === entry && runs.get(runId) === session && runs.delete(runId)).catch(() => undefined);
        }
        if (sandboxes.get(orgId) === sandbox) sandboxes.delete(orgId);
        void sandbox.dispose();
      });
      return entry;
    } catch (error) {
      await sandbox.dispose();
      throw error;
    }
  }

  function browserFor(orgId: string): Promise<OrgBrowser> {
    let entry = browsers.get(orgId);
    if (!entry) {
      const started = launch(orgId);
      browsers.set(orgId, started);
      started.catch(() => {
        if (browsers.get(orgId) === started) browsers.delete(orgId);
      });
      entry = started;
    }
    return entry;
  }

  /** A browser without contexts stays a little (the next run of the org is likely soon), then goes. */
  function release(owner: OrgBrowser): void {
    owner.contexts = Math.max(0, owner.contexts - 1);
    if (owner.contexts > 0) return;
    clearTimeout(owner.idle);
    owner.idle = setTimeout(() => void owner.browser.close().catch(() => undefined), idleMs);
    owner.idle.unref();
  }

  async function openRun(ctx: ToolContext): Promise<RunSession> {
    if (runs.size >= maxContexts) throw new Error(`the gateway's ${maxContexts} browser sessions are all in use; try again shortly`);
    const owner = await browserFor(ctx.orgId);
    clearTimeout(owner.idle);
    owner.contexts++;
    let context: BrowserContext;
    try {
      context = await owner.browser.newContext({
        serviceWorkers: "block",
        acceptDownloads: false,
        viewport: { width: 1280, height: 800 },
      });
    } catch (error) {
      release(owner);
      throw error;
    }
    const session: RunSession = { orgId: ctx.orgId, owner, context, page: undefined as unknown as Page, blocked: [], screenshots: 0 };
    context.on("close", () => release(owner));
    await context.route("**/*", async (route) => {
      const url = new URL(route.request().url());
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        session.blocked.push(`${url.protocol} ${url.href.slice(0, 100)}`);
        return route.abort("blockedbyclient");
      }
      const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
      const decision = await checkEgress(url.hostname, port, policy);
      if (!decision.ok) {
        session.blocked.push(`${url.href.slice(0, 200)}: ${decision.reason}`);
        return route.abort("blockedbyclient");
      }
      return route.continue();
    });
    context.on("page", (page) => {
      if (context.pages().length > maxPages) void page.close();
    });
    context.setDefaultNavigationTimeout(navigationTimeoutMs);
    context.setDefaultTimeout(actionTimeoutMs);
    session.page = await context.newPage();
    return session;
  }

  function sessionFor(ctx: ToolContext): Promise<RunSession> {
    let session = runs.get(ctx.runId);
    if (!session) {
      session = openRun(ctx);
      runs.set(ctx.runId, session);
      session.catch(() => runs.delete(ctx.runId));
    }
    return session;
  }

  async function act(args: BrowserInput, ctx: ToolContext): Promise<ToolOutput | string> {
    const session = await sessionFor(ctx);
    if (session.orgId !== ctx.orgId) throw new Error("browser session belongs to another org");
    const page = session.page;
    const blockedBefore = session.blocked.length;
    const withBlocked = (text: string) => {
      const fresh = session.blocked.slice(blockedBefore);
      if (fresh.length === 0) return text;
      const shown = fresh
        .slice(0, 5)
        .map((line) => `- ${line}`)
        .join("\n");
      return `${text}\n\nBlocked ${fresh.length} request(s) to private or reserved addresses:\n${shown}`;
    };
    switch (args.action) {
      case "navigate": {
        if (!args.url) return missing("url");
        let target: URL;
        try {
          target = new URL(args.url);
        } catch {
          return { content: `Refused: ${JSON.stringify(args.url)} is not a URL.`, isError: true };
        }
        if (target.protocol !== "http:" && target.protocol !== "https:") {
          return { content: `Refused: only http and https URLs can be opened, not ${target.protocol}`, isError: true };
        }
        const decision = await checkEgress(target.hostname, Number(target.port || (target.protocol === "https:" ? 443 : 80)), policy);
        if (!decision.ok) return { content: `Refused: ${target.href} is not reachable: ${decision.reason}.`, isError: true };
        const response = await page.goto(target.href, { waitUntil: "load" });
        // A redirect into a private address is stopped by the egress proxy, which marks its answer.
        const blockedBy = response?.headers()[BLOCKED_HEADER];
        if (blockedBy) {
          await page.goto("about:blank").catch(() => undefined);
          return {
            content: withBlocked(`Refused: ${target.href} led to ${response?.url()}: ${decodeURIComponent(blockedBy)}.`),
            isError: true,
          };
        }
        return withBlocked(`Opened ${page.url()} (HTTP ${response?.status() ?? "?"}). Title: ${JSON.stringify(await page.title())}.`);
      }
      case "click": {
        if (!args.selector) return missing("selector");
        await page.click(args.selector);
        await page.waitForLoadState("load").catch(() => undefined);
        return withBlocked(`Clicked ${args.selector}. Page: ${JSON.stringify(await page.title())} at ${page.url()}.`);
      }
      case "type": {
        if (!args.selector) return missing("selector");
        if (args.text === undefined) return missing("text");
        await page.fill(args.selector, args.text);
        return withBlocked(`Typed ${args.text.length} characters into ${args.selector}.`);
      }
      case "extract": {
        const html = await page.content();
        const text = readableText(html) || (await visibleText(page));
        return withBlocked(`${JSON.stringify(await page.title())} at ${page.url()}\n\n${cap(text.trim() || "(no text)", maxChars)}`);
      }
      case "evaluate": {
        if (!args.script) return missing("script");
        const value = await Promise.race([
          page.evaluate(args.script),
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error(`script ran longer than ${actionTimeoutMs} ms`)), actionTimeoutMs).unref(),
          ),
        ]);
        const json = value === undefined ? "undefined" : (JSON.stringify(value) ?? String(value));
        return withBlocked(cap(json, maxChars));
      }
      case "screenshot": {
        const png = await page.screenshot({ type: "png" });
        const name = `screenshots/${ctx.runId}-${++session.screenshots}.png`;
        const saved = await options.files.write(ctx.orgId, name, png);
        const title = await page.title();
        const headline = cap((await visibleText(page)).replace(/\s+/g, " ").trim(), 200);
        return withBlocked(
          `Saved a 1280x800 PNG screenshot (${png.byteLength} bytes) of ${JSON.stringify(title)} at ${page.url()} to ${saved.path}. Visible text begins: ${JSON.stringify(headline)}`,
        );
      }
    }
  }

  const tool: ToolDefinition<BrowserInput> = {
    name: "browser",
    description:
      "Drive a headless Chromium browser. Actions: navigate {url}; click {selector}; type {selector, text}; " +
      "extract (the page's readable text); evaluate {script} (a JavaScript expression, JSON result); " +
      "screenshot (PNG saved under /workspace/screenshots). The page persists across calls within this run. " +
      "Private and internal addresses are blocked.",
    tier: "pro",
    input,
    timeoutMs: navigationTimeoutMs + 30_000,
    async execute(args, ctx) {
      try {
        return await act(args, ctx);
      } catch (error) {
        return { content: `Browser ${args.action} failed: ${firstLine(error)}`, isError: true };
      }
    },
  };

  return {
    tool,
    async closeRun(runId) {
      const session = runs.get(runId);
      runs.delete(runId);
      await session?.then((s) => s.context.close()).catch(() => undefined);
    },
    async close() {
      const all = [...browsers.values()];
      browsers.clear();
      runs.clear();
      await Promise.all(
        all.map((entry) =>
          entry.then(
            async (owner) => {
              clearTimeout(owner.idle);
              await owner.browser.close().catch(() => undefined);
              await owner.sandbox.dispose();
            },
            () => undefined,
          ),
        ),
      );
    },
    sandboxes: () => new Map(sandboxes),
  };
}

/** The text a person would see: rendered layout matters here, so innerText and not textContent. */
function visibleText(page: Page): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's page.innerText, rendered text is the point
  return page.innerText("body").catch(() => "");
}

/** Readability's view of the page, as plain text with paragraphs kept. */
function readableText(html: string): string {
  try {
    const { document } = parseHTML(html);
    const article = new Readability(document as unknown as Document).parse();
    const text = article?.textContent ?? "";
    return text
      .replace(/[ \t]+/g, " ")
      .replace(/\n\s*\n+/g, "\n\n")
      .trim();
  } catch {
    return "";
  }
}

function cap(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n[cut: showing ${max} of ${text.length} characters]`;
}

function missing(field: string): ToolOutput {
  return { content: `Refused: this action needs "${field}".`, isError: true };
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0];
}
