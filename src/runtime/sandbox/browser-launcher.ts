/**
 * The first process of a browser's sandbox (browser-sandbox.ts): it gives Chromium its only way
 * out and then becomes its parent.
 *
 * The sandbox has its own network namespace with nothing but loopback. The gateway's egress proxy
 * for this browser listens on a unix socket that bwrap mounts in; Chromium cannot use a unix
 * socket as its proxy, so this program listens on 127.0.0.1:<port> *inside* the namespace and
 * copies every connection to that socket, byte for byte. The proxy authenticates each request
 * with this browser's credentials and applies the egress rules; nothing here decides anything.
 *
 * argv: <socket> <port> <chromium> [chromium arguments...]. Descriptors 3 and 4 (Playwright's
 * pipe to Chromium) are passed on to Chromium untouched. Bundled by programs.ts, run by plain Node.
 */
import { spawn } from "node:child_process";
import { connect, createServer, type Socket } from "node:net";

function main(): void {
  const [socketPath, portText, chromium, ...args] = process.argv.slice(2);
  const forwarder = createServer((client: Socket) => {
    const upstream = connect(socketPath);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  forwarder.listen(Number(portText), "127.0.0.1", () => {
    const browser = spawn(chromium, args, { stdio: ["ignore", "inherit", "inherit", "inherit", "inherit"] });
    browser.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => browser.kill(signal));
  });
  forwarder.on("error", (error) => {
    process.stderr.write(`browser sandbox: cannot listen on 127.0.0.1:${portText}: ${error.message}\n`);
    process.exit(1);
  });
}

main();
