import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeChannels, startFakeChannels } from "../../../test/fakes/channels";
import { ChannelError, createChannelSender } from "./message";
import { createGuardedFetcher } from "./net/guarded-fetch";

describe("channel sender", () => {
  let sinks: FakeChannels;
  beforeAll(async () => {
    sinks = await startFakeChannels();
  });
  afterAll(() => sinks.close());

  it("rate limits each channel separately, in process", async () => {
    const fetcher = createGuardedFetcher({ allowlist: [`127.0.0.1:${sinks.port}`] });
    try {
      const sender = createChannelSender({ fetcher, perMinute: 2 });
      const target = (id: string) => ({ id, name: id, config: { type: "slack" as const, url: `${sinks.url}/slack/${id}` } });
      await sender.send(target("a"), "1", { orgId: "org_1" });
      await sender.send(target("a"), "2", { orgId: "org_1" });
      await expect(sender.send(target("a"), "3", { orgId: "org_1" })).rejects.toBeInstanceOf(ChannelError);
      await sender.send(target("b"), "1", { orgId: "org_1" });
      expect(sinks.requests.map((r) => r.path)).toEqual(["/slack/a", "/slack/a", "/slack/b"]);
    } finally {
      await fetcher.close();
    }
  });
});
