import type { Context } from "hono";
import type { AppEnv } from "../../../http/context";
import { type SseStream, sseResponse } from "../../../http/sse";
import { ResponseProjection, type StreamEvent } from "./projection";
import type { StoredResponse } from "./stored";

/**
 * Writes Open Responses events: `event:` equal to the type, the event as `data:`, no `id:` (the
 * position is `sequence_number`); events up to `after` were already seen and are skipped.
 */
export function responseEventWriter(sse: SseStream, after: number) {
  return (events: StreamEvent[]) => {
    for (const event of events) if (event.sequence_number > after) sse.send({ event: event.type, data: event });
  };
}

/** Ends an Open Responses stream: the literal `[DONE]`. */
export const writeDone = (sse: SseStream) => sse.send({ data: "[DONE]" });

/**
 * A stream that follows a response's run from its event log (any gateway, during and after the
 * run), folding from the first event so sequence numbers are the ones a live stream had, and
 * sending those after `after`. The client leaving ends only this stream.
 */
export function followResponse(c: Context<AppEnv>, response: StoredResponse, after: number): Response {
  const { runs, config } = c.var.services;
  return sseResponse(c, { pingMs: config.limits.ssePingMs }, async (sse) => {
    const projection = new ResponseProjection(response.meta);
    const write = responseEventWriter(sse, after);
    write(projection.opening());
    for await (const event of runs.follow(response.row, 0, sse.signal)) {
      write(projection.apply(event));
      await sse.drained();
    }
    if (projection.ended) writeDone(sse);
  });
}
