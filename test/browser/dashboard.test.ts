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

describe("dashboard in a browser", () => {
  let fake: FakeModelServer;
  let h: Harness;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const url = (path: string) => `${server.url}${path}`;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    fake = await startFakeAnthropic();
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000", ANTHROPIC_BASE_URL: fake.url });
    server = await h.listen();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    page = await context.newPage();
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("dialog", (d) => void d.accept());
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await fake?.close();
  });

  it("signs up, builds an agent with a skill, chats with streaming and tool cards, creates a key once, and sees the run in usage", async () => {
    // Sign up.
    await page.goto(url("/"));
    await expect.poll(() => page.url()).toContain("/login");
    await page.getByRole("link", { name: "Create an account" }).click();
    // htmx swaps pages in place: wait for the new page before filling (the login page has Email too).
    await page.getByRole("heading", { name: "Create your account" }).waitFor();
    await page.getByLabel("Email").fill("browser@example.com");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByLabel("Organization name").fill("Browser Org");
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.getByRole("heading", { name: "Agents" }).waitFor();
    expect(page.url()).toMatch(/\/orgs\/org_[^/]+\/agents$/);
    const orgBase = new URL(page.url()).pathname.replace(/\/agents$/, "");

    // Create an agent.
    await page.getByRole("link", { name: "New agent" }).click();
    await page.getByRole("heading", { name: "New agent" }).waitFor();
    await page.getByLabel("Name").fill("Browser Bot");
    await page.getByLabel("System prompt").fill("You remember things.");
    await page.getByLabel(/^Model/).selectOption("claude-sonnet-4-20250514");
    await shot("agent-form");
    await page.getByRole("button", { name: "Create agent" }).click();
    await page.getByRole("heading", { name: "Browser Bot" }).waitFor();
    await expect.poll(() => page.locator(".flash-ok").textContent()).toContain("Created agent Browser Bot");

    // Attach a built-in skill.
    const skillSelect = page.getByLabel("Attach a skill");
    const skillName = ((await skillSelect.locator("option").first().textContent()) ?? "").replace(" (built-in)", "");
    await page.getByRole("button", { name: "Attach" }).click();
    await expect.poll(() => page.locator(".flash-ok").textContent()).toContain("Skill attached");
    await expect.poll(() => page.locator("section[aria-labelledby=skills-h] .list").textContent()).toContain(skillName);
    await shot("agent-edit");

    // Chat in the playground: a memory_write tool call, then streamed text.
    fake.enqueue(
      { toolCalls: [{ id: "toolu_b1", name: "memory_write", input: { content: "The user likes teal." } }], usage: { inputTokens: 400, outputTokens: 30 }, delayMs: 30 },
      { text: "Got it, teal it is. I will remember that.", textChunks: 6, usage: { inputTokens: 500, outputTokens: 12 }, delayMs: 60 },
    );
    await page.getByRole("link", { name: "Open in playground" }).click();
    await page.getByRole("heading", { name: "Playground" }).waitFor();
    await page.getByLabel(/^Message/).fill("Remember that I like teal");
    await page.getByRole("button", { name: "Send" }).click();
    const card = page.locator(".msg.assistant details.tool");
    await card.waitFor();
    expect(await card.locator(".tool-name").textContent()).toBe("memory_write");
    await expect.poll(() => page.locator(".msg.assistant .text").textContent()).toBe("Got it, teal it is. I will remember that.");
    await page.locator(".run-stats").waitFor();
    expect(await page.locator(".run-stats").textContent()).toMatch(/2 iterations · 1 tool call · 942 tokens/);
    await card.locator("summary").click();
    expect(await card.locator("pre").first().textContent()).toContain("The user likes teal.");
    expect(await card.locator(".state").textContent()).toBe("done");
    await shot("playground");
    // The conversation is now in the URL and in the list after a reload, rendered from storage.
    expect(page.url()).toMatch(/conversation=conv_/);
    await page.reload();
    await page.locator(".transcript details.tool").waitFor();
    expect(await page.locator(".transcript .msg.user").textContent()).toBe("Remember that I like teal");

    // The tool call wrote a note: the memory page shows it.
    await page.goto(url(`${orgBase}/agents`));
    await page.getByRole("link", { name: "Memory" }).first().click();
    await page.getByRole("heading", { name: "Memory of Browser Bot" }).waitFor();
    expect(await page.getByLabel("Note 1").inputValue()).toContain("The user likes teal.");
    await shot("memory");

    // Create an API key: shown once, with a copy button.
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByRole("heading", { name: "API keys", exact: true }).waitFor();
    await page.getByLabel("Name").fill("ci key");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = (await page.locator("#new-key").textContent()) ?? "";
    expect(key).toMatch(/^sk_live_/);
    expect(await page.locator(".created-key").textContent()).toContain("shown once");
    await page.locator(".created-key button[data-copy]").click();
    await expect.poll(() => page.locator(".created-key button[data-copy]").textContent()).toMatch(/Copied|Select and copy/);
    await shot("api-keys");
    const check = await fetch(url("/v1/models"), { headers: { authorization: `Bearer ${key}` } });
    expect(check.status).toBe(200);
    await page.goto(url(`${orgBase}/api-keys`));
    expect(await page.content()).not.toContain(key);
    expect(await page.locator("tbody").textContent()).toContain(key.slice(-4));

    // The run shows in usage.
    await page.getByRole("link", { name: "Usage" }).click();
    await page.getByRole("heading", { name: "Usage" }).waitFor();
    expect(await page.locator(".stats").textContent()).toContain("942");
    const records = page.locator("table[aria-labelledby=records-h] tbody tr");
    expect(await records.count()).toBe(1);
    expect(await records.first().textContent()).toContain("Browser Bot");
    expect(await page.locator(".chart svg rect.bar").count()).toBeGreaterThan(0);
    await shot("usage");

    for (const [name, label] of [
      ["skills", "Skills"],
      ["billing", "Billing"],
      ["domain", "Domain"],
      ["members", "Members"],
    ] as const) {
      await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: label }).click();
      await page.getByRole("heading", { name: label === "Domain" ? "Custom domain" : label, exact: true }).waitFor();
      await shot(name);
    }

    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("revokes a key after confirming, and logs out", async () => {
    const orgBase = new URL(page.url()).pathname.replace(/\/[^/]+$/, "");
    await page.goto(url(`${orgBase}/api-keys`));
    await page.getByRole("button", { name: "Revoke" }).click();
    await expect.poll(() => page.locator(".flash-ok").textContent()).toContain("Key revoked");
    expect(await page.locator("tbody").textContent()).toContain("No keys yet");
    await page.getByRole("button", { name: "Log out" }).click();
    await expect.poll(() => page.url()).toContain("/login");
    await page.goto(url(`${orgBase}/agents`));
    await expect.poll(() => page.url()).toContain("/login");
    expect(cspViolations).toEqual([]);
  });
});
