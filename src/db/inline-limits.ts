/**
 * Writes LIMIT values into the SQL text instead of binding them (SQLite only). SQLite (3.53
 * here) plans with the value bound to `LIMIT ?` and marks the statement to be compiled again
 * whenever that parameter is bound anew, and better-sqlite3 binds every parameter on every
 * execution: a cached statement with a bound LIMIT is parsed and planned again each time. Measured
 * on the agents page query: 25–30 µs per execution with `limit ? offset ?` against 11–13 µs with
 * `limit 50 offset ?` (the offset does not matter). Each distinct limit is its own statement in the
 * statement cache (src/db/index.ts); the API bounds page sizes, so they are few.
 *
 * Only whole numbers are inlined (the builder's `.limit(n)` with a number or bigint); anything
 * else, such as a prepared query's placeholder (src/db/prepared.ts), stays bound.
 *
 * @example
 * new Kysely<Database>({ dialect: new SqliteDialect({ database }), plugins: [new InlineLimitsPlugin()] });
 */
import {
  type KyselyPlugin,
  LimitNode,
  OperationNodeTransformer,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
  ValueNode,
} from "kysely";

class InlineLimits extends OperationNodeTransformer {
  protected override transformLimit(node: LimitNode): LimitNode {
    const limit = node.limit;
    if (ValueNode.is(limit) && !limit.immediate && isWholeNumber(limit.value))
      return LimitNode.create(ValueNode.createImmediate(limit.value));
    return super.transformLimit(node);
  }
}

const isWholeNumber = (value: unknown): value is number | bigint =>
  (typeof value === "number" && Number.isSafeInteger(value)) || typeof value === "bigint";

export class InlineLimitsPlugin implements KyselyPlugin {
  private readonly transformer = new InlineLimits();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    // Only a select has a LIMIT here (ours or one of its subqueries'). The transformer copies the
    // whole tree (2–3 µs for a query of a run), which the writes of a run need not pay.
    return args.node.kind === "SelectQueryNode" ? this.transformer.transformNode(args.node) : args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
