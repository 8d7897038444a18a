import { html, raw } from "hono/html";

type OpenApiDoc = {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, { summary?: string; tags?: string[]; requestBody?: unknown; responses?: Record<string, unknown> }>>;
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/**
 * A self-contained API reference page rendered from the OpenAPI document: no scripts, no CDN,
 * so it works offline. Each operation links to its schema in /openapi.json.
 */
export function renderDocsPage(doc: OpenApiDoc) {
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? "Other";
      const codes = Object.keys(op.responses ?? {}).join(", ");
      const row = `<tr><td><code class="m m-${method}">${method.toUpperCase()}</code></td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(op.summary ?? "")}</td><td>${codes}</td></tr>`;
      byTag.set(tag, [...(byTag.get(tag) ?? []), row]);
    }
  }
  const sections = [...byTag.entries()]
    .map(
      ([tag, rows]) =>
        `<section><h2 id="${escapeHtml(tag)}">${escapeHtml(tag)}</h2><table><thead><tr><th>Method</th><th>Path</th><th>What it does</th><th>Responses</th></tr></thead><tbody>${rows.join("")}</tbody></table></section>`,
    )
    .join("");
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>${doc.info.title} API reference</title>
<style>
  :root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #59636e; --line: #d1d9e0; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #30363d; } }
  body { font: 15px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); max-width: 70rem; margin: 2rem auto; padding: 0 1rem; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
  th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  code { font: 13px ui-monospace, monospace; }
  .m { font-weight: 700; } .m-get { color: #1a7f37; } .m-post { color: #0969da; } .m-patch, .m-put { color: #9a6700; } .m-delete { color: #cf222e; }
  p.lead { color: var(--muted); }
</style>
</head>
<body>
<h1>${doc.info.title} <small>${doc.info.version}</small></h1>
<p class="lead">Every operation of the gateway. Machine-readable schemas (OpenAPI 3.1): <a href="/openapi.json">/openapi.json</a>.
Errors always use the envelope <code>{"error":{"type","message","param","requestId"}}</code>.</p>
${raw(sections)}
</body>
</html>`;
}
