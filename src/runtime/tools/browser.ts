import { existsSync } from "node:fs";
import { Readability } from "@mozilla/readability";
import { parseHTML } from "linkedom";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { z } from "zod";
import { BLOCKED_HEADER, checkEgress, type EgressPolicyOptions, type EgressProxy, startEgressProxy } from "../sandbox/egress-proxy";
import type { ProbeResult, WorkspaceFiles } from "../sandbox/types";
import type { ToolContext, ToolDefinition, ToolOutput } from "./types";

/** playwright-core takes most of a second to load: only gateways whose agents browse pay for it. */
const loadChromium = async () => (await import("playwright-core")).chromium;

export interface BrowserToolOptions {
  /** Where screenshots are saved (the org's workspace, within its quota). */
  files: WorkspaceFiles;
  executablePath?: string;
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
  /** Closes every context, Chromium and the egress proxy (gateway shutdown). */
  close(): Promise<void>;
}

const LAUNCH_ARGS = [
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

interface RunSession {
  orgId: string;
  context: BrowserContext;
  page: Page;
  blocked: string[];
  screenshots: number;
}

/**
 * Whether Chromium can be driven here: the binary exists and a headless launch succeeds.
 * When it fails, offer `{ name: "browser", reason }` as an UnavailableTool instead of the tool.
 */
export async function probeBrowser(executablePath = "/usr/bin/chromium"): Promise<ProbeResult> {
  if (!existsSync(executablePath)) return { ok: false, reason: `Chromium is not installed (${executablePath} is missing)` };
  try {
    const browser = await (await loadChromium()).launch({ executablePath, headless: true, args: LAUNCH_ARGS, timeout: 30_000 });
    await browser.close();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: `Chromium does not start: ${firstLine(error)}` };
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
  const policy: EgressPolicyOptions = { allowlist: options.allowlist, lookup: options.lookup };
  const runs = new Map<string, Promise<RunSession>>();
  let started: Promise<{ browser: Browser; proxy: EgressProxy }> | undefined;

  function start(): Promise<{ browser: Browser; proxy: EgressProxy }> {
    started ??= (async () => {
      const proxy = await startEgressProxy(policy);
      try {
        const browser = await (await loadChromium()).launch({
          executablePath,
          headless: true,
          args: LAUNCH_ARGS,
          // Playwright adds <-loopback> to the bypass list, so loopback goes through the proxy too.
          proxy: { server: proxy.url },
          timeout: 30_000,
        });
        browser.on("disconnected", () => {
          started = undefined;
          runs.clear();
        });
        return { browser, proxy };
      } catch (error) {
        await proxy.close();
        throw error;
      }
    })().catch((error) => {
      started = undefined;
      throw error;
    });
    return started;
  }

  async function openRun(ctx: ToolContext): Promise<RunSession> {
    if (runs.size >= maxContexts) throw new Error(`the gateway's ${maxContexts} browser sessions are all in use; try again shortly`);
    const { browser } = await start();
    const context = await browser.newContext({
      serviceWorkers: "block",
      acceptDownloads: false,
      viewport: { width: 1280, height: 800 },
    });
    const session: RunSession = { orgId: ctx.orgId, context, page: undefined as unknown as Page, blocked: [], screenshots: 0 };
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
      const all = [...runs.values()];
      runs.clear();
      await Promise.all(all.map((session) => session.then((s) => s.context.close()).catch(() => undefined)));
      const running = started;
      started = undefined;
      if (running) {
        const { browser, proxy } = await running.catch(() => ({ browser: undefined, proxy: undefined }));
        await browser?.close().catch(() => undefined);
        await proxy?.close();
      }
    },
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
