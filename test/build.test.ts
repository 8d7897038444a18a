/**
 * The bundle `npm start` and the Docker image run (bin/build.mjs → build/gateway.mjs): built and
 * started as a process, it finds the files it reads at run time from the project's directory
 * (src/lib/project-files.ts) as the TypeScript does: the sandbox scripts (read at startup), the
 * dashboard's static files and the built-in skills; its CLI works, and it stops cleanly.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, serverEnv, startServerProcess } from "./security/process";

const run = promisify(execFile);
const root = new URL("..", import.meta.url).pathname;

describe("the gateway bundle (npm start)", () => {
  const bundle = join("build", `gateway-test-${process.pid}.mjs`);
  const dataDir = mkdtempSync(join(tmpdir(), "openpaw-bundle-"));
  const env = serverEnv(dataDir);
  let server: ServerProcess;

  beforeAll(async () => {
    await run(process.execPath, ["bin/build.mjs", bundle], { cwd: root });
    server = await startServerProcess(env, [], ["--enable-source-maps", bundle]);
  }, 60_000);

  afterAll(() => {
    server?.child.kill("SIGKILL");
    rmSync(join(root, bundle), { force: true });
    rmSync(join(root, `${bundle}.map`), { force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("serves the dashboard's static files and the built-in skills, and its CLI bootstraps", async () => {
    const css = await fetch(`${server.url}/assets/app.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toContain("text/css");
    expect((await css.text()).length).toBeGreaterThan(100);

    const { stdout } = await run(
      process.execPath,
      [bundle, "bootstrap", "--email", "ops@example.com", "--password", "correct horse battery", "--org", "Ops"],
      { cwd: root, env },
    );
    const key = /api key\s+(sk_live_\S+)/.exec(stdout)?.[1];
    const orgId = /org\s+(org_\S+)/.exec(stdout)?.[1];
    expect(key && orgId, stdout).toBeTruthy();
    const skills = await fetch(`${server.url}/v1/orgs/${orgId}/skills`, { headers: { authorization: `Bearer ${key}` } });
    expect(skills.status).toBe(200);
    const body = (await skills.json()) as { data: Array<{ id: string }> };
    expect(body.data.some((s) => s.id.startsWith("skl_builtin_"))).toBe(true);
  });

  it("stops on SIGTERM with exit code 0", async () => {
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });
});
