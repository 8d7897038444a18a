/**
 * Approvals in the dashboard, in Chromium: the agent form's "Needs approval", the playground's
 * pending call with Approve, and the run list's waiting runs.
 */
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { startFakeAnthropic } from "../fakes/anthropic";
import type { FakeModelServer } from "../fakes/model-script";
import { type Harness, createHarness } from "../helpers/harness";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("dashboard: tool approvals", () => {
  let fake: FakeModelServer;
  let h: Harness;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const url = (path: string) => `${server.url}${path}`;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000", ANTHROPIC_BASE_URL: fake.url });
    server = await h.listen();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await fake?.close();
  });

  it("an agent whose memory_write needs approval: the playground shows the call, Approve runs it, the run list showed it waiting", async () => {
    await page.goto(url("/signup"));
    await page.getByRole("heading", { name: "Create your account" }).waitFor();
    await page.getByLabel("Email").fill("approver@example.com");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByLabel("Organization name").fill("Approver Org");
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.getByRole("heading", { name: "Agents" }).waitFor();
    const orgBase = new URL(page.url()).pathname.replace(/\/agents$/, "");

    await page.getByRole("link", { name: "New agent" }).click();
    await page.getByRole("heading", { name: "New agent" }).waitFor();
    await page.getByLabel("Name").fill("Careful Bot");
    await page.getByLabel(/^Model/).selectOption("claude-sonnet-4-20250514");
    await page.locator("input[name=approvalRequired][value=memory_write]").check();
    await page.getByRole("button", { name: "Create agent" }).click();
    await page.getByRole("heading", { name: "Careful Bot" }).waitFor();
    expect(await page.locator("input[name=approvalRequired][value=memory_write]").isChecked()).toBe(true);

    fake.enqueue(
      { toolCalls: [{ id: "toolu_ui1", name: "memory_write", input: { content: "Approved in the browser." } }] },
      { text: "Saved after your approval.", textChunks: 3 },
    );
    await page.getByRole("link", { name: "Open in playground" }).click();
    await page.getByRole("heading", { name: "Playground" }).waitFor();
    await page.getByLabel(/^Message/).fill("Remember this, please");
    await page.getByRole("button", { name: "Send" }).click();
    const card = page.locator(".msg.assistant .approval");
    await card.waitFor();
    expect(await card.locator(".tool-name").textContent()).toBe("memory_write");
    expect(await card.locator("pre").textContent()).toContain("Approved in the browser.");

    // The run list, in another tab, shows the run waiting for a decision.
    const other = await page.context().newPage();
    await other.goto(url(`${orgBase}/runs`));
    await expect.poll(() => other.locator("[data-waiting]").first().textContent()).toContain("memory_write");
    await other.close();
    const notes = () => h.services.db.kysely.selectFrom("memory_notes").select("content").execute();
    expect(JSON.stringify(await notes())).not.toContain("Approved in the browser.");

    await card.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => card.locator(".state").textContent()).toBe("approved");
    await expect.poll(() => page.locator(".msg.assistant .text").last().textContent(), { timeout: 15_000 }).toBe("Saved after your approval.");
    await page.locator(".run-stats").waitFor();
    expect(await page.locator(".msg.assistant details.tool .state").textContent()).toBe("done");
    expect(JSON.stringify(await notes())).toContain("Approved in the browser.");
    expect(pageErrors).toEqual([]);
  });
});
