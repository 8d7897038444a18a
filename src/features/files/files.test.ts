import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hasBwrap } from "../../../test/fakes/sandbox-env";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { BUILT_IN_PLANS } from "../billing/plans";
import { workspaceDir } from "../../runtime/sandbox/paths";
import type { RunningServer } from "../../server";

const QUOTA = 8192;
const MAX_UPLOAD = 4096;
const MAX_BODY = 1024;

const octet = { "content-type": "application/octet-stream" };

// The file work runs in the org's sandbox (docs/sandbox.md): without bubblewrap the API answers 503.
describe.skipIf(!hasBwrap)("files API: /v1/orgs/:orgId/files", () => {
  let h: Harness;
  let plansDir: string;
  let a: Account;
  let b: Account;
  let free: Account;
  let adminA: string;
  let readA: string;
  let writeA: string;
  let chatA: string;
  let adminB: string;
  const files = (org: string, path?: string) => `/v1/orgs/${org}/files${path === undefined ? "" : `?path=${encodeURIComponent(path)}`}`;
  const content = (org: string, path?: string) =>
    `/v1/orgs/${org}/files/content${path === undefined ? "" : `?path=${encodeURIComponent(path)}`}`;
  const upload = (org: string, path: string, body: string, auth: { key?: string; cookie?: string }) =>
    h.request("PUT", content(org, path), { ...auth, raw: body, headers: octet });

  beforeAll(async () => {
    // A Pro plan with a small quota, so the quota is reachable with uploads under the upload limit.
    plansDir = mkdtempSync(join(tmpdir(), "openpaw-plans-"));
    const pro = BUILT_IN_PLANS.find((plan) => plan.id === "pro");
    writeFileSync(join(plansDir, "plans.json"), JSON.stringify([{ ...pro, workspaceBytes: QUOTA }]));
    h = await createHarness({
      OPENPAW_DEFAULT_PLAN: "pro",
      OPENPAW_PLANS_FILE: join(plansDir, "plans.json"),
      OPENPAW_MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
      OPENPAW_MAX_BODY_BYTES: String(MAX_BODY),
    });
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
    free = await h.signup({ orgName: "Free org" });
    await h.services.db.kysely.updateTable("orgs").set({ plan: "free" }).where("id", "=", free.orgId).execute();
    adminA = (await h.createKey(a, { scopes: ["admin"] })).key;
    readA = (await h.createKey(a, { scopes: ["read"] })).key;
    writeA = (await h.createKey(a, { scopes: ["write"] })).key;
    chatA = (await h.createKey(a, { scopes: ["chat"] })).key;
    adminB = (await h.createKey(b, { scopes: ["admin"] })).key;
  });
  afterAll(async () => {
    await h.close();
    rmSync(plansDir, { recursive: true, force: true });
  });

  it("uploads (201), replaces (200), lists with usage and downloads the exact bytes", async () => {
    const created = await upload(a.orgId, "docs/notes.txt", "first version", { key: writeA });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "notes.txt", path: "/workspace/docs/notes.txt", type: "file", size: 13 });
    expect(Date.parse(created.body.modifiedAt)).toBeGreaterThan(Date.now() - 60_000);

    const replaced = await upload(a.orgId, "/workspace/docs/notes.txt", "second", { cookie: a.cookie });
    expect(replaced.status).toBe(200);
    expect(replaced.body.size).toBe(6);

    const root = await h.request("GET", files(a.orgId), { key: readA });
    expect(root.status).toBe(200);
    expect(root.body.data).toContainEqual(expect.objectContaining({ name: "docs", path: "/workspace/docs", type: "directory" }));
    const docs = await h.request("GET", files(a.orgId, "docs"), { key: readA });
    expect(docs.body.data).toEqual([
      expect.objectContaining({ name: "notes.txt", path: "/workspace/docs/notes.txt", type: "file", size: 6 }),
    ]);
    expect(docs.body.usage).toEqual({ bytes: 6, quotaBytes: QUOTA });

    const got = await h.request("GET", content(a.orgId, "docs/notes.txt"), { key: readA });
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toBe("application/octet-stream");
    expect(got.headers.get("content-disposition")).toBe(`attachment; filename="notes.txt"; filename*=UTF-8''notes.txt`);
    expect(got.text).toBe("second");
  });

  it("round-trips binary bytes over real HTTP and names non-ASCII files in Content-Disposition", async () => {
    const server: RunningServer = await h.listen();
    const bytes = new Uint8Array([0, 255, 1, 254, 0x80, 10, 13, 0]);
    const url = `${server.url}${content(a.orgId, "bin/données.bin")}`;
    const put = await fetch(url, { method: "PUT", headers: { authorization: `Bearer ${writeA}`, ...octet }, body: bytes });
    expect(put.status).toBe(201);
    const get = await fetch(url, { headers: { authorization: `Bearer ${readA}` } });
    expect(get.status).toBe(200);
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(bytes);
    expect(get.headers.get("content-disposition")).toBe(`attachment; filename="donn_es.bin"; filename*=UTF-8''donn%C3%A9es.bin`);
  });

  it("takes uploads bigger than the JSON body limit, up to the upload limit (413 over it)", async () => {
    const big = "x".repeat(MAX_BODY + 500);
    const ok = await upload(a.orgId, "big.txt", big, { key: writeA });
    expect(ok.status).toBe(201);
    expect(ok.body.size).toBe(big.length);
    const tooBig = await upload(a.orgId, "huge.txt", "y".repeat(MAX_UPLOAD + 1), { key: writeA });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.type).toBe("request_too_large_error");
    // Other routes keep the JSON body limit.
    const json = await h.request("PATCH", `/v1/orgs/${a.orgId}`, { key: adminA, body: { name: "n".repeat(MAX_BODY) } });
    expect(json.status).toBe(413);
    expect(await h.request("DELETE", files(a.orgId, "big.txt"), { key: writeA })).toMatchObject({ status: 204 });
  });

  it("refuses a write past the plan's workspace quota with 413 quota_exceeded on path", async () => {
    const chunk = "q".repeat(MAX_UPLOAD - 100);
    expect((await upload(b.orgId, "one.txt", chunk, { key: adminB })).status).toBe(201);
    expect((await upload(b.orgId, "two.txt", chunk, { key: adminB })).status).toBe(201);
    const over = await upload(b.orgId, "three.txt", chunk, { key: adminB });
    expect(over.status).toBe(413);
    expect(over.body.error).toMatchObject({ type: "request_too_large_error", param: "path" });
    expect(over.body.error.message).toMatch(/workspace quota exceeded/);
    const listing = await h.request("GET", files(b.orgId), { key: adminB });
    expect(listing.body.data.map((e: { name: string }) => e.name)).toEqual(["one.txt", "two.txt"]);
    expect(listing.body.usage).toEqual({ bytes: 2 * chunk.length, quotaBytes: QUOTA });
  });

  it("deletes files and empty directories (204); a non-empty directory is 409 on path", async () => {
    await upload(a.orgId, "tmp/dir/x.txt", "x", { key: writeA });
    const notEmpty = await h.request("DELETE", files(a.orgId, "tmp/dir"), { key: writeA });
    expect(notEmpty.status).toBe(409);
    expect(notEmpty.body.error).toMatchObject({ type: "conflict_error", param: "path" });
    expect((await h.request("DELETE", files(a.orgId, "tmp/dir/x.txt"), { key: writeA })).status).toBe(204);
    expect((await h.request("DELETE", files(a.orgId, "tmp/dir"), { cookie: a.cookie })).status).toBe(204);
    const gone = await h.request("GET", content(a.orgId, "tmp/dir/x.txt"), { key: readA });
    expect(gone.status).toBe(404);
    expect(gone.body.error).toMatchObject({ type: "not_found_error", param: "path" });
    const again = await h.request("DELETE", files(a.orgId, "tmp/dir"), { key: writeA });
    expect(again.status).toBe(404);
  });

  it("applies the workspace path rules: 400 on path for escapes, directories, files listed as directories", async () => {
    for (const [method, url] of [
      ["GET", files(a.orgId, "../../etc")],
      ["GET", content(a.orgId, "/etc/passwd")],
      ["DELETE", files(a.orgId, "/workspace")],
      ["GET", content(a.orgId, "a/../../secret")],
    ] as const) {
      const res = await h.request(method, url, { key: adminA });
      expect(res.status, `${method} ${url}`).toBe(400);
      expect(res.body.error).toMatchObject({ type: "invalid_request_error", param: "path" });
    }
    const climbing = await upload(a.orgId, "../outside.txt", "nope", { key: writeA });
    expect(climbing.status).toBe(400);
    expect(climbing.body.error.param).toBe("path");

    // A symlink pointing out of the workspace (as a command could plant) is not followed.
    symlinkSync("/etc/passwd", join(workspaceDir(h.config.dataDir, a.orgId), "passwd-link"));
    const viaLink = await h.request("GET", content(a.orgId, "passwd-link"), { key: readA });
    expect(viaLink.status).toBe(400);
    expect(viaLink.body.error).toMatchObject({ param: "path" });
    expect(viaLink.text).not.toContain("root:");
    const listed = await h.request("GET", files(a.orgId), { key: readA });
    expect(listed.body.data).toContainEqual(expect.objectContaining({ name: "passwd-link", type: "symlink", size: 0 }));

    const dirAsFile = await h.request("GET", content(a.orgId, "docs"), { key: readA });
    expect(dirAsFile.status).toBe(400);
    expect(dirAsFile.body.error.param).toBe("path");
    const fileAsDir = await h.request("GET", files(a.orgId, "docs/notes.txt"), { key: readA });
    expect(fileAsDir.status).toBe(400);
    expect(fileAsDir.body.error.param).toBe("path");
    const missing = await h.request("GET", content(a.orgId), { key: readA });
    expect(missing.status).toBe(400);
    expect(missing.body.error.param).toBe("path");
  });

  it.skipIf(process.getuid?.() !== 0)("refuses, 403 on path, what the org's own commands could not touch either", async () => {
    // A file the gateway (root here) put in the workspace, readable by root only.
    writeFileSync(join(workspaceDir(h.config.dataDir, a.orgId), "root-only.txt"), "not for the sandbox", { mode: 0o600 });
    const res = await h.request("GET", content(a.orgId, "root-only.txt"), { key: readA });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ type: "permission_error", param: "path" });
    expect(res.text).not.toContain("not for the sandbox");
  });

  it("needs read to list and download, write to upload and delete", async () => {
    await upload(a.orgId, "perm.txt", "p", { key: writeA });
    expect((await h.request("GET", files(a.orgId), { key: chatA })).status).toBe(403);
    expect((await h.request("GET", content(a.orgId, "perm.txt"), { key: chatA })).status).toBe(403);
    const readUpload = await upload(a.orgId, "perm.txt", "changed", { key: readA });
    expect(readUpload.status).toBe(403);
    expect(readUpload.body.error.message).toMatch(/write permission/);
    expect((await h.request("DELETE", files(a.orgId, "perm.txt"), { key: readA })).status).toBe(403);
    expect((await h.request("GET", content(a.orgId, "perm.txt"), { key: readA })).text).toBe("p");
    expect((await h.request("GET", files(a.orgId))).status).toBe(401);
  });

  it("refuses an org below Pro with 403 naming its plan", async () => {
    for (const res of [
      await h.request("GET", files(free.orgId), { cookie: free.cookie }),
      await h.request("GET", content(free.orgId, "x.txt"), { cookie: free.cookie }),
      await upload(free.orgId, "x.txt", "x", { cookie: free.cookie }),
      await h.request("DELETE", files(free.orgId, "x.txt"), { cookie: free.cookie }),
    ]) {
      expect(res.status).toBe(403);
      expect(res.body.error.type).toBe("permission_error");
      expect(res.body.error.message).toMatch(/Pro plan or higher; this organization is on the Free plan/);
    }
  });

  it("hides one org's files from another org's owner session and admin key (404)", async () => {
    await upload(a.orgId, "private.txt", "A's secret", { key: writeA });
    for (const auth of [{ cookie: b.cookie }, { key: adminB }]) {
      for (const res of [
        await h.request("GET", files(a.orgId), auth),
        await h.request("GET", content(a.orgId, "private.txt"), auth),
        await upload(a.orgId, "private.txt", "overwritten", auth),
        await h.request("DELETE", files(a.orgId, "private.txt"), auth),
      ]) {
        expect(res.status).toBe(404);
        expect(res.text).not.toContain("secret");
      }
    }
    expect((await h.request("GET", content(a.orgId, "private.txt"), { key: readA })).text).toBe("A's secret");
    const own = await h.request("GET", files(b.orgId), { key: adminB });
    expect(own.body.data.map((e: { name: string }) => e.name)).not.toContain("private.txt");
  });
});
