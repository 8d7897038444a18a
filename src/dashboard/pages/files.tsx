import { type ApiApp, callApi } from "../api";
import { type Dashboard, apiFailure, done, failed, field, orgPage } from "../page";
import { ConfirmButton, Layout, fmt } from "../ui";

interface Entry {
  name: string;
  path: string;
  type: "file" | "directory" | "symlink" | "other";
  size: number;
  modifiedAt: string;
}

const parentOf = (path: string) => path.replace(/\/[^/]+\/?$/, "") || "/workspace";

/** Workspace files (Pro tools): browse, download, upload, delete. */
export function registerFilePages(app: Dashboard, api: ApiApp) {
  app.get(
    "/orgs/:orgId/files",
    orgPage(api, async (c, view) => {
      const base = `/orgs/${view.org.id}`;
      const path = c.req.query("path") || "/workspace";
      const result = await callApi(api, c, "GET", `/v1${base}/files?path=${encodeURIComponent(path)}`);
      const failure = result.ok ? null : result.status === 403 || result.status === 400 ? result.error?.message : null;
      if (!result.ok && !failure) return apiFailure(c, view, result) ?? failed(c, `${base}/agents`, result);
      const entries = (result.ok ? result.body.data : []) as Entry[];
      const canWrite = view.can("write");
      return c.html(
        <Layout view={view} title="Workspace files" active="Files">
          <p class="muted">Files your agents read and write with the Pro tools (exec, read_file, write_file, browser).</p>
          {failure ? (
            <p class="note" role="alert">
              {failure}
            </p>
          ) : (
            <>
              <p>
                <code>{path}</code>
                {path !== "/workspace" ? (
                  <>
                    {" "}
                    <a href={`${base}/files?path=${encodeURIComponent(parentOf(path))}`}>↑ Up</a>
                  </>
                ) : null}
                <span class="muted small">
                  {" "}
                  · {fmt.bytes(result.body.usage.bytes)} of {fmt.bytes(result.body.usage.quotaBytes)} used
                </span>
              </p>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col" class="num">
                      Size
                    </th>
                    <th scope="col">Modified</th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {entries.length === 0 ? (
                    <tr>
                      <td colspan={4} class="empty">
                        Empty.
                      </td>
                    </tr>
                  ) : null}
                  {entries.map((e) => (
                    <tr>
                      <td>
                        {e.type === "directory" ? (
                          <a href={`${base}/files?path=${encodeURIComponent(e.path)}`}>{e.name}/</a>
                        ) : e.type === "file" ? (
                          <a href={`/v1${base}/files/content?path=${encodeURIComponent(e.path)}`} hx-boost="false" download={e.name}>
                            {e.name}
                          </a>
                        ) : (
                          e.name
                        )}
                      </td>
                      <td class="num">{e.type === "file" ? fmt.bytes(e.size) : ""}</td>
                      <td>{fmt.date(e.modifiedAt)}</td>
                      <td>
                        {canWrite ? (
                          <ConfirmButton action={`${base}/files/delete`} fields={{ path: e.path }} label="Delete" confirm={`Delete ${e.path}?`} />
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {canWrite ? (
                <form method="post" action={`${base}/files`} enctype="multipart/form-data" class="row">
                  <input type="hidden" name="dir" value={path} />
                  <label>
                    Upload a file to this folder
                    <input type="file" name="file" required />
                  </label>
                  <button type="submit">Upload</button>
                </form>
              ) : null}
            </>
          )}
        </Layout>,
      );
    }),
  );

  app.post(
    "/orgs/:orgId/files",
    orgPage(api, async (c, view) => {
      const form = await c.req.parseBody();
      const dir = field(form, "dir") || "/workspace";
      const page = `/orgs/${view.org.id}/files?path=${encodeURIComponent(dir)}`;
      const file = form.file;
      if (!(file instanceof File) || !file.name) return failed(c, page, { ok: false, status: 400, body: null, headers: new Headers(), error: { message: "Choose a file to upload." } });
      const target = `${dir.replace(/\/+$/, "")}/${file.name}`;
      const data = new Uint8Array(await file.arrayBuffer());
      const result = await callApi(api, c, "PUT", `/v1/orgs/${view.org.id}/files/content?path=${encodeURIComponent(target)}`, {
        raw: { data, contentType: "application/octet-stream" },
      });
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, page, result);
      return done(c, page, `Uploaded ${file.name}.`);
    }),
  );
  app.post(
    "/orgs/:orgId/files/delete",
    orgPage(api, async (c, view) => {
      const path = field(await c.req.parseBody(), "path");
      const page = `/orgs/${view.org.id}/files?path=${encodeURIComponent(parentOf(path))}`;
      const result = await callApi(api, c, "DELETE", `/v1/orgs/${view.org.id}/files?path=${encodeURIComponent(path)}`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, page, result);
      return done(c, page, "Deleted.");
    }),
  );
}
