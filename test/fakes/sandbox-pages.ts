import { createServer, type Server } from "node:http";

/** Local pages for the browser tool: one allowlisted site and one "private" server that counts hits. */
export interface TestPages {
  /** Base URL of the allowlisted site (`http://127.0.0.1:<port>`). */
  url: string;
  /** host:port to put in the allowlist. */
  allow: string;
  /** Base URL of the private server, which the browser must never reach. */
  privateUrl: string;
  privateHits(): string[];
  close(): Promise<void>;
}

/** Starts both servers on 127.0.0.1, port 0. */
export async function startTestPages(): Promise<TestPages> {
  const hits: string[] = [];
  const privateServer = createServer((req, res) => {
    hits.push(req.url ?? "");
    res.writeHead(200, { "content-type": "text/plain" }).end("private data");
  });
  const privatePort = await listen(privateServer);
  const privateUrl = `http://127.0.0.1:${privatePort}`;
  const paragraphs = Array.from(
    { length: 6 },
    (_, i) =>
      `<p>Paragraph ${i + 1}: the quarterly report says revenue grew by forty-two percent while costs stayed flat, which the board found encouraging.</p>`,
  ).join("\n");
  const page = `<!doctype html><html><head><title>OpenPaw test page</title></head><body>
<nav>Home | About</nav>
<article><h1>Quarterly report</h1>${paragraphs}</article>
<button id="go" onclick="document.getElementById('status').textContent = 'Clicked ' + document.getElementById('name').value">Go</button>
<p id="status">Waiting</p>
<input id="name" value="">
<img src="${privateUrl}/pixel.png">
<script>fetch(${JSON.stringify(`${privateUrl}/beacon`)}).catch(() => {});</script>
</body></html>`;
  const site = createServer((req, res) => {
    if (req.url === "/redirect") {
      res.writeHead(302, { location: `${privateUrl}/redirected` }).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
  });
  const sitePort = await listen(site);
  return {
    url: `http://127.0.0.1:${sitePort}`,
    allow: `127.0.0.1:${sitePort}`,
    privateUrl,
    privateHits: () => [...hits],
    close: async () => {
      site.closeAllConnections();
      privateServer.closeAllConnections();
      await Promise.all([new Promise((r) => site.close(r)), new Promise((r) => privateServer.close(r))]);
    },
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}
