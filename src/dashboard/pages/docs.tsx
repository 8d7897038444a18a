import { type ApiApp, callApi } from "../api";
import { assetUrl } from "../assets";
import type { Dashboard } from "../page";

type Operation = { summary?: string; tags?: string[] };
type OpenApiDoc = { info: { title: string; version: string }; paths: Record<string, Record<string, Operation>> };

/** Every operation in a table: what a browser without JavaScript (or a test) sees. */
function OperationList(props: { doc: OpenApiDoc }) {
  const rows = Object.entries(props.doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path, summary: op.summary ?? "", tag: op.tags?.[0] ?? "Other" })),
  );
  return (
    <table>
      <thead>
        <tr>
          <th>Tag</th>
          <th>Method</th>
          <th>Path</th>
          <th>What it does</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr>
            <td>{r.tag}</td>
            <td>
              <code>{r.method}</code>
            </td>
            <td>
              <code>{r.path}</code>
            </td>
            <td>{r.summary}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * `GET /docs`: the API reference, rendered in the browser by Swagger UI (a maintained renderer,
 * vendored from swagger-ui-dist and served from /assets: no CDN, works offline) from the same
 * OpenAPI document that validates requests, with every request and response schema. It runs
 * under the dashboard's strict CSP (no inline script or style).
 */
export function registerDocsPage(app: Dashboard, api: ApiApp) {
  app.get("/docs", async (c) => {
    const doc = (await callApi<OpenApiDoc>(api, c, "GET", "/openapi.json")).body;
    return c.html(
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{`${doc.info.title} API reference`}</title>
          <link rel="icon" href={assetUrl("logo.svg")} type="image/svg+xml" />
          <link rel="stylesheet" href={assetUrl("swagger-ui.css")} />
          <link rel="stylesheet" href={assetUrl("docs.css")} />
          <script src={assetUrl("swagger-ui-bundle.js")} defer></script>
          <script src={assetUrl("docs.js")} defer></script>
        </head>
        <body>
          <header class="docs-top">
            <a href="/">
              <img src={assetUrl("logo.svg")} alt="" />
              {`${doc.info.title} API reference`}
            </a>
            <span class="links">
              <a href="/openapi.json">openapi.json</a>
              <a href="/">Dashboard</a>
            </span>
          </header>
          <main id="reference" data-spec="/openapi.json">
            <div class="docs-fallback">
              <p>
                The interactive reference needs JavaScript. Every operation is listed below; the schemas are in{" "}
                <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).
              </p>
              <OperationList doc={doc} />
            </div>
          </main>
        </body>
      </html>,
    );
  });
}
