import { z } from "@hono/zod-openapi";
import type { OrgAccess } from "../../http/context";
import { errors } from "../../http/errors";
import { createRouter, iso, jsonBody, jsonResponse, OrgIdParam, PathId } from "../../http/openapi";
import { canSeeAgent } from "../../http/permissions";
import type { Services } from "../../services";
import { agentExists, clearMemory, listHistory, replaceNotes } from "./repository";
import { DEFAULT_MEMORY_LIMITS, createMemoryStore } from "./store";
import { orgRoute } from "../../http/routes";

const tags = ["Memory"];
const limits = DEFAULT_MEMORY_LIMITS;

const NoteSchema = z.object({ id: z.string(), content: z.string(), createdAt: z.string() }).openapi("MemoryNote");

const HistoryEntrySchema = z
  .object({ id: z.string(), conversationId: z.string().nullable(), content: z.string(), createdAt: z.string() })
  .openapi("MemoryHistoryEntry");

const MemorySchema = z
  .object({
    notes: z.array(NoteSchema).openapi({ description: "NOTES, oldest first: curated by the agent, always in its context" }),
    history: z.array(HistoryEntrySchema).openapi({ description: "HISTORY, newest first: a summary appended after each conversation turn" }),
  })
  .openapi("Memory");

const ReplaceNotesBody = z
  .strictObject({
    notes: z
      .array(
        z
          .string()
          .trim()
          .min(1, "A note cannot be empty.")
          .max(limits.maxNoteChars, `A note may have at most ${limits.maxNoteChars} characters.`),
      )
      .max(limits.maxNotes, `An agent may have at most ${limits.maxNotes} notes.`),
  })
  .openapi("ReplaceMemoryNotesRequest");

const Params = z.object({
  orgId: OrgIdParam,
  agentId: PathId("agentId", "ag_4f9Kq2"),
});

const getMemory = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/agents/{agentId}/memory",
  operationId: "memory.get",
  tags,
  summary: "An agent's memory: all NOTES and the newest HISTORY entries",
  request: {
    params: Params,
    query: z.object({
      historyLimit: z.coerce
        .number()
        .int()
        .min(1)
        .max(1000)
        .default(100)
        .openapi({ description: "How many HISTORY entries to return, newest first (1..1000, default 100)" }),
    }),
  },
  responses: { 200: jsonResponse(MemorySchema, "The memory") },
  permission: "read",
});

const putNotes = orgRoute({
  method: "put",
  path: "/v1/orgs/{orgId}/agents/{agentId}/memory/notes",
  operationId: "memory.setNotes",
  tags,
  summary: "Replace all NOTES (the dashboard's editor)",
  description: `Unchanged notes keep their timestamps. Caps: ${limits.maxNotes} notes, ${limits.maxNoteChars} characters each, ${limits.maxNotesTotalChars} in total.`,
  request: { params: Params, body: jsonBody(ReplaceNotesBody) },
  responses: { 200: jsonResponse(MemorySchema, "The memory after the change") },
  permission: "write",
});

const deleteMemory = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/agents/{agentId}/memory",
  operationId: "memory.delete",
  tags,
  summary: "Clear an agent's NOTES and HISTORY",
  request: { params: Params },
  responses: { 204: { description: "Cleared" } },
  permission: "write",
});

/** 404 unless the agent is in this org and visible to the caller (a restricted key sees only its agents). */
async function requireAgent(services: Services, access: OrgAccess, agentId: string): Promise<void> {
  if (!canSeeAgent(access, agentId) || !(await agentExists(services.db.kysely, access.orgId, agentId))) {
    throw errors.notFound("Agent", "agentId");
  }
}

async function memoryBody(services: Services, orgId: string, agentId: string, historyLimit: number) {
  const db = services.db.kysely;
  const [notes, history] = await Promise.all([
    createMemoryStore(db, orgId, agentId).notes(),
    listHistory(db, orgId, agentId, historyLimit),
  ]);
  return {
    notes: notes.map((n) => ({ id: n.id, content: n.content, createdAt: iso(n.createdAt) })),
    history: history.map((h) => ({ id: h.id, conversationId: h.conversationId, content: h.content, createdAt: iso(h.createdAt) })),
  };
}

/** Agent memory for people: read it, replace the NOTES, clear it. */
export function memoryRoutes() {
  const app = createRouter();

  app.openapi(getMemory, async (c) => {
    const { access, services } = c.var;
    const { agentId } = c.req.valid("param");
    await requireAgent(services, access, agentId);
    return c.json(await memoryBody(services, access.orgId, agentId, c.req.valid("query").historyLimit), 200);
  });

  app.openapi(putNotes, async (c) => {
    const { access, services } = c.var;
    const { agentId } = c.req.valid("param");
    await requireAgent(services, access, agentId);
    const { notes } = c.req.valid("json");
    let total = 0;
    for (const [i, note] of notes.entries()) {
      total += note.length;
      if (total > limits.maxNotesTotalChars) {
        throw errors.invalid(
          `Notes may have at most ${limits.maxNotesTotalChars} characters in total; notes.${i} goes past it.`,
          `notes.${i}`,
        );
      }
    }
    await replaceNotes(services.db.kysely, access.orgId, agentId, notes, Date.now());
    return c.json(await memoryBody(services, access.orgId, agentId, 100), 200);
  });

  app.openapi(deleteMemory, async (c) => {
    const { access, services } = c.var;
    const { agentId } = c.req.valid("param");
    await requireAgent(services, access, agentId);
    await clearMemory(services.db.kysely, access.orgId, agentId);
    return c.body(null, 204);
  });

  return app;
}
