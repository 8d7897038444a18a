import { type Server, type Socket, connect, createServer } from "node:net";
import type { AddressInfo } from "node:net";

/**
 * A TCP relay in front of PostgreSQL or Redis, so a test can take "the database" away from the
 * replicas and bring it back without stopping the shared server other suites use.
 */
export interface TcpProxy {
  port: number;
  /** Stops accepting and cuts every open connection, as a server going down would. */
  down(): Promise<void>;
  /** Accepts again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const listen = async () => {
    const s = createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const down = async () => {
    const s = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    port,
    down,
    up: listen,
    close: down,
  };
}
