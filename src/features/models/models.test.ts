import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";

describe("GET /v1/models", () => {
  let h: Harness;
  let a: Account;
  beforeAll(async () => {
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test" });
    a = await h.signup();
  });
  afterAll(() => h.close());

  it("lists the catalogue to any session or key, with availability per provider", async () => {
    const { key } = await h.createKey(a, { scopes: ["chat"] });
    for (const cred of [{ cookie: a.cookie }, { key }]) {
      const res = await h.request("GET", "/v1/models", cred);
      expect(res.status).toBe(200);
      const sonnet = res.body.data.find((m: { id: string }) => m.id === "claude-sonnet-4-20250514");
      expect(sonnet).toEqual({
        id: "claude-sonnet-4-20250514",
        provider: "anthropic",
        providerModel: "claude-sonnet-4-20250514",
        name: "Claude Sonnet 4",
        contextWindow: 200000,
        maxOutputTokens: 64000,
        prices: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
        available: true,
        local: false,
        pricesKnown: true,
        note: null,
      });
      // Request parameters are the gateway's business.
      expect(res.body.data.find((m: { id: string }) => m.id === "gpt-6-sol").requestParams).toBeUndefined();
      expect(res.body.data.find((m: { id: string }) => m.id === "gpt-4o").available).toBe(false);
    }
  });

  it("needs authentication and is documented", async () => {
    const res = await h.request("GET", "/v1/models");
    expect(res.status).toBe(401);
    expect(res.body.error.type).toBe("authentication_error");
    expect((await h.request("GET", "/v1/models", { key: "sk_live_nope" })).status).toBe(401);
    const doc = (await h.request("GET", "/openapi.json")).body;
    expect(doc.paths["/v1/models"].get).toBeDefined();
  });
});
