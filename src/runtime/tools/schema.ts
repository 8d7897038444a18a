import { z } from "zod";

/** The JSON Schema of a tool's input as offered to the model (what the caller may send, defaults optional). */
export function toJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: "draft-7", io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  delete json.$schema;
  if (json.type !== "object") return { type: "object", properties: {} };
  return json;
}
