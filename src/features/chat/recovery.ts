import { newId } from "../../lib/ids";
import { totalTokens } from "../../runtime/loop";
import type { Services } from "../../services";
import { insertUsageRecord } from "../usage/repository";
import { endRun, findStaleRuns } from "./runs-repository";

/**
 * Runs left `running` by a process that died (SIGKILL, crash, power loss) are marked
 * `interrupted`, and their usage so far — kept current in the run row after every model call —
 * becomes their one usage record. A live run proves itself with a heartbeat every 30 s, so only
 * runs silent for longer than `staleAfterMs` are taken.
 */
export async function recoverInterruptedRuns(services: Pick<Services, "db" | "logger">, staleAfterMs: number): Promise<number> {
  const { db, logger } = services;
  const now = Date.now();
  const stale = await findStaleRuns(db.kysely, now - staleAfterMs);
  let recovered = 0;
  for (const run of stale) {
    const totals = {
      usage: {
        inputTokens: run.input_tokens,
        outputTokens: run.output_tokens,
        cacheReadTokens: run.cache_read_tokens,
        cacheWriteTokens: run.cache_write_tokens,
      },
      cost: run.cost,
      iterations: run.iterations,
      toolCalls: run.tool_calls,
    };
    await db.kysely.transaction().execute(async (trx) => {
      if (!(await endRun(trx, run.id, "interrupted", totals, now))) return;
      const agent = await trx.selectFrom("agents").select("name").where("org_id", "=", run.org_id).where("id", "=", run.agent_id).executeTakeFirst();
      await insertUsageRecord(trx, {
        id: newId("usg"),
        org_id: run.org_id,
        agent_id: run.agent_id,
        agent_name: agent?.name ?? "(deleted agent)",
        conversation_id: run.conversation_id,
        run_id: run.id,
        parent_run_id: run.parent_run_id,
        api_key_id: run.api_key_id,
        user_id: run.user_id,
        model: run.model,
        input_tokens: run.input_tokens,
        output_tokens: run.output_tokens,
        cache_read_tokens: run.cache_read_tokens,
        cache_write_tokens: run.cache_write_tokens,
        tokens: totalTokens(totals.usage),
        cost: run.cost,
        iterations: run.iterations,
        tool_calls: run.tool_calls,
        status: "interrupted",
        duration_ms: run.updated_at - run.started_at,
        created_at: now,
      });
      recovered++;
    });
  }
  if (recovered) logger.warn("recovered interrupted runs", { count: recovered });
  return recovered;
}
