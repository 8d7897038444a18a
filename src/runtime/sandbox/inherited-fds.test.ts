import { closeSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { hasBwrap, tempDataDir } from "../../../test/fakes/sandbox-env";
import { chatOverHttp } from "../../../test/helpers/sse";
import { bootstrapKey, type ServerProcess, serverEnv, startServerProcess } from "../../../test/security/process";

/**
 * Issue 21, defect 2: descriptors the gateway inherited reached every sandbox. Here the real
 * gateway (`serve`, a child process) is started with an extra descriptor open on a file, and an
 * agent's exec command tries every way to write to it.
 */
const INHERITED_FD = 100;

describe.skipIf(!hasBwrap)("a gateway started with an extra open descriptor", () => {
  let fake: FakeModelServer;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let server: ServerProcess;
  let outside: string;
  let leakFile: string;
  let key: string;
  let orgId: string;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    data = await tempDataDir();
    outside = mkdtempSync(join(tmpdir(), "openpaw-fd-"));
    leakFile = join(outside, "inherited.log");
    const env = serverEnv(data.dir, { ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000", ANTHROPIC_BASE_URL: fake.url });
    ({ key, orgId } = await bootstrapKey(env));
    const fd = openSync(leakFile, "a");
    try {
      // As descriptor 100: Node marks the lowest inherited descriptors close-on-exec itself, not those.
      server = await startServerProcess(env, [...Array<"ignore">(INHERITED_FD - 3).fill("ignore"), fd]);
    } finally {
      closeSync(fd);
    }
  }, 60_000);

  afterAll(async () => {
    server?.child.kill("SIGKILL");
    await server?.exited;
    await fake?.close();
    await data?.cleanup();
    rmSync(outside, { recursive: true, force: true });
  });

  it("gives a command no way to write to it", async () => {
    // The gateway really holds it, and will pass it to what it spawns (no O_CLOEXEC).
    expect(readlinkSync(`/proc/${server.child.pid}/fd/${INHERITED_FD}`)).toBe(leakFile);
    expect(readFileSync(`/proc/${server.child.pid}/fdinfo/${INHERITED_FD}`, "utf8")).toMatch(/^flags:\s+0[0-7]{0,6}$/m);
    const created = await fetch(`${server.url}/v1/orgs/${orgId}/agents`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Shell", systemPrompt: "Run it.", model: "claude-sonnet-4-20250514", enabledTools: ["exec"] }),
    });
    expect(created.status).toBe(201);
    const agentId = ((await created.json()) as { id: string }).id;
    const command = [
      `bash -c 'echo LEAKED >&${INHERITED_FD}'`,
      `echo LEAKED > /proc/self/fd/${INHERITED_FD}`,
      `for p in /proc/[0-9]*; do echo LEAKED 2>/dev/null > $p/fd/${INHERITED_FD}; done`,
      "ls /proc/[0-9]*/fd",
      "echo END",
    ].join("; ");
    fake.enqueue({ toolCalls: [{ id: "toolu_fd", name: "exec", input: { command } }] }, { text: "done" });
    const res = await chatOverHttp(server.url, agentId, { message: "try the descriptor" }, { key });
    expect(res.status).toBe(200);
    const result = res.events.find((event) => event.event === "tool_result")?.data;
    expect(result?.output).toContain("END");
    expect(result?.output).toMatch(/Bad file descriptor|No such file/);
    expect(readFileSync(leakFile, "utf8")).toBe("");
  });
});
