import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createApp } from "./app";
import { ConfigError, loadConfig } from "./config";
import { openDatabase } from "./db";
import { migrateToLatest } from "./db/migrations";
import { PlanTable } from "./features/billing/plans";
import { type OperatorOrg, OperatorService, PlanChangeError } from "./features/operator/service";
import { bootstrap } from "./features/orgs/bootstrap";
import { startServer } from "./server";
import { createServices } from "./services";

const usage = `Usage: openpaw <command>

Commands:
  serve                                   run the gateway (default)
  migrate                                 bring the database schema up to date and exit
  openapi [--out FILE]                    print the OpenAPI document (/openapi.json) without serving
  bootstrap --email E --password P --org NAME
                                          create a user, an org and an admin API key (printed once)
  orgs list [--plan PLAN] [--limit N]     every org: plan, members, agents, tokens and cost this period
  orgs show ORG                           one org in detail
  orgs set-plan ORG PLAN [--force]        set an org's plan (--force: even with a live Stripe subscription)
  orgs set-plan --all PLAN [--from PLAN]  move every org without a live subscription (only those on --from)
  users list [--limit N]                  every user and their orgs
  users reset-password EMAIL [--password P]
                                          set a new password (generated and printed once without --password)
                                          and sign the user out everywhere
`;

const num = (n: number) => Math.round(n).toLocaleString("en-US");
const date = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Prints rows as aligned columns. */
function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
}

function describeOrg(org: OperatorOrg): string[] {
  return [
    `org          ${org.id}`,
    `name         ${org.name}`,
    `plan         ${org.plan.id} (${org.plan.name})${org.storedPlan !== org.plan.id ? `, stored plan ${org.storedPlan}` : ""}`,
    `subscription ${org.planStatus}${org.stripeSubscriptionId ? ` (${org.stripeSubscriptionId})` : ""}`,
    `period       ${date(org.period.start)} to ${date(org.period.end)}`,
    `tokens       ${num(org.tokenUsage)}${org.tokenLimit === null ? " (no limit)" : ` of ${num(org.tokenLimit)}`}`,
    `runs         ${num(org.runs)}, $${org.cost.toFixed(4)}`,
    `members      ${org.members}, agents ${org.agents}`,
    `created      ${date(org.createdAt)}`,
  ];
}

/** `openpaw orgs ...` and `openpaw users ...`: the operator's commands, straight on the database. */
async function operatorCommand(config: ReturnType<typeof loadConfig>, command: string, rest: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      plan: { type: "string" },
      limit: { type: "string" },
      force: { type: "boolean" },
      all: { type: "boolean" },
      from: { type: "string" },
      password: { type: "string" },
    },
  });
  const db = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(db.kysely, db.dialect);
    const plans = PlanTable.fromFile(config.plansFile, config.defaultPlan);
    const operator = new OperatorService(db.kysely, plans, config.security.passwordHashCost);
    const limit = Math.min(1000, Math.max(1, Number(values.limit ?? 200) || 200));
    const [action, ...args] = positionals;
    if (command === "orgs" && action === "list") {
      const { rows, total } = await operator.listOrgs({ page: 1, limit, plan: values.plan });
      table(
        ["ORG", "PLAN", "STATUS", "MEMBERS", "AGENTS", "TOKENS", "LIMIT", "COST", "NAME"],
        rows.map((o) => [o.id, o.plan.id, o.planStatus, String(o.members), String(o.agents), num(o.tokenUsage), o.tokenLimit === null ? "-" : num(o.tokenLimit), `$${o.cost.toFixed(2)}`, o.name]),
      );
      if (total > rows.length) console.log(`(${rows.length} of ${total}; --limit N shows more)`);
      return 0;
    }
    if (command === "orgs" && action === "show" && args.length === 1) {
      const org = await operator.getOrg(args[0]);
      if (!org) {
        console.error(`No organization ${args[0]}.`);
        return 1;
      }
      console.log(describeOrg(org).join("\n"));
      return 0;
    }
    if (command === "orgs" && action === "set-plan") {
      if (values.all && args.length === 1) {
        const moved = await operator.setPlanOfAll(args[0], values.from);
        console.log(`${moved.length} org${moved.length === 1 ? "" : "s"} moved to ${args[0]}${values.from ? ` from ${values.from}` : ""} (orgs with a live Stripe subscription are left alone).`);
        return 0;
      }
      if (!values.all && args.length === 2) {
        const { before, after } = await operator.setPlan(args[0], args[1], { force: values.force });
        console.log(`${after.name} (${after.id}): ${before} -> ${after.plan.id}`);
        return 0;
      }
    }
    if (command === "users" && action === "list") {
      const { rows, total } = await operator.listUsers({ page: 1, limit });
      table(
        ["USER", "EMAIL", "ORGS", "CREATED"],
        rows.map((u) => [u.id, u.email, u.orgs.map((o) => `${o.id} (${o.role})`).join(", ") || "-", date(u.createdAt)]),
      );
      if (total > rows.length) console.log(`(${rows.length} of ${total}; --limit N shows more)`);
      return 0;
    }
    if (command === "users" && action === "reset-password" && args.length === 1) {
      const result = await operator.resetPassword(args[0], values.password);
      console.log(`Password of ${args[0]} (${result.userId}) reset; every session of the user has ended.`);
      if (result.generated) console.log(`new password ${result.password}\nHand it over now: it is not shown again.`);
      return 0;
    }
    console.error(usage);
    return 2;
  } catch (error) {
    if (error instanceof PlanChangeError || error instanceof Error) {
      console.error(error.message);
      return 1;
    }
    throw error;
  } finally {
    await db.close();
  }
}

/**
 * The document the gateway serves at /openapi.json, built from the same routes on a throwaway
 * in-memory database (nothing of the configured one is touched), for SDK generators and linters.
 */
async function openApiDocument(config: ReturnType<typeof loadConfig>): Promise<string> {
  const services = await createServices({ ...config, databaseUrl: "sqlite::memory:", redisUrl: null, logLevel: "error" });
  try {
    const res = await createApp(services).request("/openapi.json");
    return `${JSON.stringify(await res.json(), null, 2)}\n`;
  } finally {
    await services.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command = "serve", ...rest] = argv;
  const config = loadConfig();
  switch (command) {
    case "serve": {
      const services = await createServices(config);
      const server = await startServer(services);
      services.logger.info("listening", { url: server.url, database: config.databaseUrl.split(":")[0] });
      for (const signal of ["SIGTERM", "SIGINT"] as const) {
        process.once(signal, () => {
          server.stop().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        });
      }
      return -1;
    }
    case "migrate": {
      const db = openDatabase(config.databaseUrl);
      const applied = await migrateToLatest(db.kysely, db.dialect);
      await db.close();
      console.log(applied.length ? `Applied: ${applied.join(", ")}` : "Database is up to date.");
      return 0;
    }
    case "openapi": {
      const { values } = parseArgs({ args: rest, options: { out: { type: "string" } } });
      const text = await openApiDocument(config);
      if (values.out) {
        mkdirSync(dirname(resolve(values.out)), { recursive: true });
        writeFileSync(values.out, text);
      }
      else process.stdout.write(text);
      return 0;
    }
    case "bootstrap": {
      const { values } = parseArgs({
        args: rest,
        options: { email: { type: "string" }, password: { type: "string" }, org: { type: "string" } },
      });
      if (!values.email || !values.password || !values.org) {
        console.error(usage);
        return 2;
      }
      const services = await createServices({ ...config, logLevel: "warn" });
      try {
        const result = await bootstrap(services, { email: values.email, password: values.password, orgName: values.org });
        console.log(`user    ${result.userId} (${values.email})`);
        console.log(`org     ${result.orgId} (${values.org})`);
        console.log(`api key ${result.key}`);
        console.log("Store the key now: it is not shown again.");
      } finally {
        await services.close();
      }
      return 0;
    }
    case "orgs":
    case "users":
      return operatorCommand(config, command, rest);
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error) => {
    console.error(error instanceof ConfigError ? `Configuration error: ${error.message}` : error);
    process.exit(1);
  },
);
