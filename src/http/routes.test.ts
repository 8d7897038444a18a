import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, createHarness } from "../../test/helpers/harness";

/**
 * The shape of every operation of /openapi.json, as SDK generators need it (Redocly's lint in CI
 * checks the rest: security, unique operation ids, 4xx responses).
 */
describe("the OpenAPI document's operations", () => {
  let h: Harness;
  let operations: Array<{ name: string; op: any }>;

  beforeAll(async () => {
    h = await createHarness();
    const doc = (await h.request("GET", "/openapi.json")).body;
    operations = Object.entries<any>(doc.paths).flatMap(([path, ops]) =>
      Object.entries<any>(ops).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, op })),
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  it("each has a dotted operationId, a summary, a description and its security", () => {
    const bad = operations.filter(
      ({ op }) => !/^[a-z][A-Za-z]*(\.[a-z][A-Za-z]*)+$/.test(op.operationId ?? "") || !op.summary || !op.description || !Array.isArray(op.security),
    );
    expect(bad.map((o) => o.name)).toEqual([]);
    expect(operations.length).toBeGreaterThan(80);
  });

  it("declares every error status with an error envelope's schema, and no response with an empty schema", () => {
    const problems: string[] = [];
    for (const { name, op } of operations) {
      for (const [status, response] of Object.entries<any>(op.responses)) {
        for (const [type, media] of Object.entries<any>(response.content ?? {})) {
          if (!media.schema || Object.keys(media.schema).length === 0) problems.push(`${name} ${status} ${type}: empty schema`);
        }
        const ref = response.content?.["application/json"]?.schema?.$ref ?? "";
        if (Number(status) >= 400 && !/\/(Error|OpenAiError)$/.test(ref)) problems.push(`${name} ${status}: not the error envelope`);
        if (status === "409" && /^Invalid request/.test(response.description)) problems.push(`${name} 409 described as invalid`);
      }
      // What the gateway itself answers anywhere: host routing, its own failures, the database.
      for (const status of ["421", "500", "503"]) if (!op.responses[status]) problems.push(`${name}: ${status} not declared`);
      if (op.security.length > 0 && !op.responses["401"]) problems.push(`${name}: authenticated but no 401`);
    }
    expect(problems).toEqual([]);
  });
});
