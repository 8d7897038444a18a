/**
 * Generates `openapi.ts` (the typed client's types) from the gateway's OpenAPI document with
 * openapi-typescript: `npm run gen:client`. Use with openapi-fetch:
 *
 * @example
 * import createClient from "openapi-fetch";
 * import type { paths } from "./clients/typescript/openapi";
 * const openpaw = createClient<paths>({ baseUrl: "http://localhost:8787", headers: { authorization: `Bearer ${key}` } });
 * const { data, error } = await openpaw.GET("/v1/orgs/{orgId}/agents", { params: { path: { orgId } } });
 *
 * test/client/generated-client.test.ts regenerates it from the served document and fails when
 * the committed file differs, so the client cannot drift from the gateway.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import openapiTS, { COMMENT_HEADER, astToString } from "openapi-typescript";

export const CLIENT_TYPES_FILE = fileURLToPath(new URL("./openapi.ts", import.meta.url));

/** The TypeScript of the document's `paths`, `components` and `operations`. */
export async function generateClientTypes(document: object): Promise<string> {
  // A field with a default is optional to send: without this, openapi-typescript makes every
  // defaulted request field (systemPrompt, enabledTools, …) required in the request types.
  const ast = await openapiTS(document as never, { silent: true, defaultNonNullable: false });
  return `${COMMENT_HEADER}${astToString(ast)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const source = process.argv[2] ?? "build/openapi.json";
  const document = JSON.parse(readFileSync(source, "utf8"));
  writeFileSync(CLIENT_TYPES_FILE, await generateClientTypes(document));
  console.log(`${CLIENT_TYPES_FILE} generated from ${source}`);
}
