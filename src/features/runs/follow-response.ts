import type { Context } from "hono";
import type { RunsTable } from "../../db/schema";
import type { AppEnv } from "../../http/context";
import { sseResponse } from "../../http/sse";

/**
 * An SSE response that follows a run from after `after`: its logged events with their seq as
 * `id:`, then live ones, closing after `done`. The client leaving only ends this stream; the run
 * goes on. Used by the events route and by background chats with `stream: true`.
 */
export function followRunResponse(c: Context<AppEnv>, row: RunsTable, after: number): Response {
  const { runs, config } = c.var.services;
  return sseResponse(c, { pingMs: config.limits.ssePingMs }, async (sse) => {
    for await (const event of runs.follow(row, after, sse.signal)) {
      sse.send({ id: event.seq, event: event.event, data: event.data });
      // A slow client falls behind here (the next page waits), it never holds up the run.
      await sse.drained();
    }
  });
}
