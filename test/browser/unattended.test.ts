import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { type Harness, createHarness } from "../helpers/harness";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("dashboard in a browser: webhooks with their delivery log, schedules per agent", () => {
  let h: Harness;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let orgId: string;
  let receiverUrl: string;
  const received: string[] = [];
  const pageErrors: string[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push(Buffer.concat(chunks).toString("utf8"));
      res.statusCode = 204;
      res.end();
    });
  });
  const url = (path: string) => `${server.url}${path}`;

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const port = (receiver.address() as AddressInfo).port;
    receiverUrl = `http://127.0.0.1:${port}/hook`;
    h = await createHarness({ OPENPAW_SECRET_KEY: randomBytes(32).toString("base64"), OPENPAW_FETCH_ALLOWLIST: `127.0.0.1:${port}`, OPENPAW_DEFAULT_PLAN: "unlimited" });
    server = await h.listen();
    const account = await h.signup({ orgName: "Unattended" });
    orgId = account.orgId;
    await h.request("POST", `/v1/orgs/${orgId}/agents`, { cookie: account.cookie, body: { name: "Night Owl", model: "claude-sonnet-4-20250514" } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const [name, ...value] = account.cookie.split(";")[0].split("=");
    await context.addCookies([{ name, value: value.join("="), url: server.url }]);
    page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("dialog", (d) => void d.accept());
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    receiver.close();
  });

  it("adds an endpoint and sees its secret once, sends a test and reads the delivery log", async () => {
    await page.goto(url(`/orgs/${orgId}/agents`));
    await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Webhooks" }).click();
    await page.getByRole("heading", { name: "Webhooks", exact: true }).waitFor();
    await page.getByLabel("URL").fill(receiverUrl);
    await page.getByLabel("Description").fill("CI hook");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await expect.poll(() => page.locator("#new-secret").textContent()).toMatch(/^whsec_/);
    await page.getByRole("button", { name: "Send test" }).click();
    await page.getByRole("heading", { name: "Webhook deliveries" }).waitFor();
    await expect.poll(() => page.locator(".flash-ok").textContent()).toContain("Test delivered (HTTP 204)");
    const rows = page.locator("#deliveries tbody tr");
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain("webhook.test");
    expect(await rows.first().textContent()).toContain("delivered");
    expect(received).toHaveLength(1);
    await page.getByRole("link", { name: "← Webhooks" }).click();
    await page.getByRole("heading", { name: "Webhooks", exact: true }).waitFor();
    expect(await page.content()).not.toContain("new-secret");
    await page.getByRole("button", { name: "Remove" }).click();
    await expect.poll(() => page.locator(".flash-ok").textContent()).toContain("Endpoint removed");
    expect(pageErrors).toEqual([]);
  });

  it("adds a schedule to an agent, sees its next tick, and removes it", async () => {
    await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Schedules" }).click();
    await page.getByRole("heading", { name: "Schedules", exact: true }).waitFor();
    await page.getByLabel("Agent").selectOption({ label: "Night Owl" });
    await page.getByLabel("Cron (minute hour day month weekday)").fill("0 7 * * 1-5");
    await page.getByLabel("Time zone").fill("America/New_York");
    await page.getByLabel("Message").fill("Morning briefing");
    await page.getByRole("button", { name: "Add schedule" }).click();
    await expect.poll(() => page.locator(".flash-ok").textContent()).toContain("Schedule added");
    const row = page.locator("table tbody tr").first();
    expect(await row.textContent()).toContain("0 7 * * 1-5");
    expect(await row.textContent()).toContain("Morning briefing");
    expect(await row.textContent()).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:00 UTC/);
    await page.getByRole("button", { name: "Remove" }).click();
    await expect.poll(() => page.locator(".flash-ok").textContent()).toContain("Schedule removed");
    expect(await page.locator("main").textContent()).toContain("No schedules yet");
    expect(pageErrors).toEqual([]);
  });
});
