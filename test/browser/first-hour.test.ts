/**
 * A self-hoster's first hour in a browser: the playground (scrolling, the conversation list,
 * failed turns, reopened conversations), the operator page, the API reference, unknown pages.
 * Screenshots go to test-artifacts/screenshots/first-hour-*.png.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { startFakeAnthropic } from "../fakes/anthropic";
import type { FakeModelServer } from "../fakes/model-script";
import { type Harness, createHarness } from "../helpers/harness";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = join(process.cwd(), "test-artifacts", "screenshots");
const EMAIL = "operator@example.com";

describe("a self-hoster's first hour, in a browser", () => {
  let fake: FakeModelServer;
  let h: Harness;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let orgBase = "";
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];

  const shot = (name: string, fullPage = true) => page.screenshot({ path: join(SHOTS, `first-hour-${name}.png`), fullPage });
  const url = (path: string) => `${server.url}${path}`;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    fake = await startFakeAnthropic();
    h = await createHarness({
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_OPERATOR_EMAILS: EMAIL,
    });
    server = await h.listen();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("dialog", (d) => void d.accept());

    await page.goto(url("/signup"));
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByLabel("Organization name").fill("First Hour");
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.getByRole("heading", { name: "Agents" }).waitFor();
    orgBase = new URL(page.url()).pathname.replace(/\/agents$/, "");
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await fake?.close();
  });

  it("offers a mid-priced default model and says what models cost", async () => {
    await page.goto(url(`${orgBase}/agents/new`));
    const model = page.getByLabel(/^Model/);
    expect(await model.inputValue()).toBe("claude-sonnet-5-5");
    expect(await model.locator("option:checked").textContent()).toContain("$2 / $10");
    await page.getByLabel("Name").fill("Helper");
    await page.getByLabel("System prompt").fill("You help.");
    await page.getByRole("button", { name: "Create agent" }).click();
    await page.getByRole("heading", { name: "Helper" }).waitFor();
  });

  it("the playground follows the newest turn, lists a new conversation at once, and says when a run failed", async () => {
    await page.goto(url(`${orgBase}/playground`));
    const send = async (message: string) => {
      await page.getByLabel(/^Message/).fill(message);
      await page.getByRole("button", { name: "Send" }).click();
      await expect.poll(() => page.getByRole("button", { name: "Send" }).isEnabled()).toBe(true);
    };
    const long = "A long answer line that fills the transcript. ".repeat(30);
    fake.enqueue(
      { toolCalls: [{ id: "toolu_fh1", name: "memory_write", input: { content: "likes long answers" } }], usage: { inputTokens: 100, outputTokens: 10 } },
      { text: long, textChunks: 5, usage: { inputTokens: 100, outputTokens: 50 } },
    );
    await send("First question");
    // The new conversation is in the list, current, without a reload.
    const current = page.locator("nav.conversations a[aria-current=page]");
    await expect.poll(() => current.textContent()).toContain("First question");
    expect(await page.locator(".run-stats").last().textContent()).toMatch(/^2 iterations · 1 tool call · /);
    expect(await page.locator("p.status").textContent()).toBe("Response complete.");
    for (let i = 2; i <= 4; i++) {
      fake.enqueue({ text: long, textChunks: 3, usage: { inputTokens: 100, outputTokens: 50 } });
      await send(`Question ${i}`);
    }
    const atBottom = () =>
      page.locator("#transcript").evaluate((t) => Math.abs(t.scrollHeight - t.scrollTop - t.clientHeight) < 4 && t.scrollHeight > t.clientHeight);
    expect(await atBottom()).toBe(true);

    // A provider failure after part of the answer: the status says it failed, not "Response complete."
    fake.enqueue({ text: "This answer will break off", textChunks: 6, errorAfterEvents: 5, usage: { inputTokens: 100 } });
    await send("Break please");
    expect(await page.locator("p.status").textContent()).toMatch(/^Failed: The model provider is overloaded\. It was not retried/);
    expect(await page.locator(".run-ending").last().textContent()).toContain("overloaded");
    expect(await atBottom()).toBe(true);
    await shot("playground-live", false);

    // Reopened: the newest turn in view, each turn's figures, the failed turn marked, tool output unwrapped.
    await page.reload();
    await page.locator(".transcript .run-stats").first().waitFor();
    expect(await page.locator(".transcript .run-stats").count()).toBe(5);
    expect(await page.locator(".transcript .run-stats").first().textContent()).toMatch(/^2 iterations · 1 tool call · /);
    expect(await page.locator(".transcript .run-ending").last().textContent()).toContain("This turn failed");
    expect(await atBottom()).toBe(true);
    const card = page.locator(".transcript details.tool").first();
    await card.locator("summary").click();
    const result = (await card.locator("pre").nth(1).textContent()) ?? "";
    expect(result).not.toContain("<tool_output");
    expect(result.length).toBeGreaterThan(0);
    await page.locator("#transcript").evaluate((t) => {
      t.scrollTop = 0;
    });
    await shot("playground-reopened", false);
  });

  it("the playground follows a run again after a reload, stops one, and links runs from usage", async () => {
    await page.goto(url(`${orgBase}/playground`));
    const words = Array.from({ length: 24 }, (_, i) => `w${i}`);
    fake.enqueue({ text: words.join(" "), textChunks: 24, delayMs: 120, usage: { inputTokens: 100, outputTokens: 24 } });
    await page.getByLabel(/^Message/).fill("Answer slowly");
    await page.getByRole("button", { name: "Send" }).click();
    await expect.poll(() => page.locator("#transcript .msg.assistant .text").last().textContent()).toContain("w2");
    // Reloaded mid-run: the run was not cancelled; the page follows it from its log to the end.
    await page.reload();
    const live = page.locator("[data-live-run]");
    await live.waitFor();
    await expect.poll(() => live.locator(".run-stats").count(), { timeout: 15_000 }).toBe(1);
    expect(await live.locator(".text").allTextContents()).toEqual([words.join(" ")]);
    expect(await page.locator("p.status").textContent()).toBe("Response complete.");

    // Stop cancels a run that would otherwise never end.
    fake.enqueue({ text: "This will hang", textChunks: 4, hangAfterEvents: 3 });
    await page.getByLabel(/^Message/).fill("Hang please");
    await page.getByRole("button", { name: "Send" }).click();
    const stop = page.getByRole("button", { name: "Stop" });
    await stop.waitFor();
    await stop.click();
    await expect.poll(() => page.locator("p.status").textContent(), { timeout: 15_000 }).toBe("Failed: The run was cancelled.");
    expect(await stop.isHidden()).toBe(true);

    // Each run's figures link to the run's own page, and so does each usage record.
    await page.locator(".run-stats a", { hasText: "run" }).last().click();
    await page.getByRole("heading", { name: /^Run run_/ }).waitFor();
    expect(await page.locator(".badge").first().textContent()).toBe("cancelled");
    await page.getByRole("link", { name: "Runs" }).click();
    await page.getByRole("heading", { name: "Runs" }).waitFor();
    expect(await page.locator("tbody tr").count()).toBeGreaterThanOrEqual(7);
    await page.getByRole("link", { name: "Usage" }).click();
    await page.getByRole("link", { name: /UTC$/ }).first().click();
    await page.getByRole("heading", { name: /^Run run_/ }).waitFor();
    await shot("run-page");
  });

  it("the operator page lists orgs with usage and changes a plan", async () => {
    const other = await h.signup({ orgName: "Customer Co" });
    await page.getByRole("link", { name: "Operator" }).click();
    await page.getByRole("heading", { name: "Operator" }).waitFor();
    const row = page.locator("tr", { hasText: "Customer Co" });
    await row.getByLabel("Plan of Customer Co").selectOption("unlimited");
    await row.getByRole("button", { name: "Set plan" }).click();
    await expect.poll(() => page.locator(".flash-ok").textContent()).toContain("Customer Co is now on the Unlimited (self-hosted) plan.");
    const billing = await h.request("GET", `/v1/orgs/${other.orgId}/billing`, { cookie: other.cookie });
    expect(billing.body.plan.id).toBe("unlimited");
    expect(await page.locator("tr", { hasText: "First Hour" }).textContent()).toMatch(/of 200,000/);
    await shot("operator");
  });

  it("/docs is a real reference with request and response schemas, under the CSP", async () => {
    await page.goto(url("/docs"));
    const signup = page.locator(".opblock", { hasText: "/v1/auth/signup" }).first();
    await signup.waitFor();
    await signup.locator(".opblock-summary").click();
    await signup.locator(".opblock-body").waitFor();
    expect(await signup.locator(".opblock-section-request-body").textContent()).toContain("email");
    expect(await signup.locator(".responses-table").textContent()).toContain("201");
    await shot("docs", false);
  });

  it("an unknown address is a page, and the tab has an icon", async () => {
    await page.goto(url(`${orgBase}/nothing-here`));
    await page.getByRole("heading", { name: "Not found" }).waitFor();
    expect(await page.locator("body").textContent()).not.toContain("not_found_error");
    const icon = await page.request.get(url("/favicon.ico"));
    expect(icon.status()).toBe(200);
    await shot("not-found");
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
