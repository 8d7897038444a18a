/** Gateway replicas as child processes (`node --import tsx src/main.ts serve`) for the replica suites. */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

export interface Replica {
  url: string;
  proc: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

export function startReplica(env: Record<string, string>, port: number): Replica {
  const proc = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "serve"], {
    cwd: join(import.meta.dirname, "../.."),
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  proc.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
  proc.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  return { url: `http://127.0.0.1:${port}`, proc, output, exited };
}

export async function waitReady(r: Replica): Promise<void> {
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    if (r.proc.exitCode !== null) throw new Error(`replica exited (${r.proc.exitCode}):\n${r.output.join("")}`);
    try {
      if ((await fetch(`${r.url}/readyz`)).status === 200) return;
    } catch {}
    await sleep(200);
  }
  throw new Error(`replica not ready in time:\n${r.output.join("")}`);
}

/** Stops replicas: SIGTERM, then SIGKILL after a grace period. */
export async function stopReplicas(replicas: Array<Replica | undefined>): Promise<void> {
  for (const r of replicas) if (r && r.proc.exitCode === null) r.proc.kill("SIGTERM");
  await Promise.all(replicas.map((r) => (r ? Promise.race([r.exited, sleep(8_000)]) : undefined)));
  for (const r of replicas) if (r && r.proc.exitCode === null) r.proc.kill("SIGKILL");
}
