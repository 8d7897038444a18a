import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./config";
import { openDatabase } from "./db";
import { migrateToLatest } from "./db/migrations";
import { bootstrap } from "./features/orgs/bootstrap";
import { startServer } from "./server";
import { createServices } from "./services";

const usage = `Usage: openpaw <command>

Commands:
  serve                                   run the gateway (default)
  migrate                                 bring the database schema up to date and exit
  bootstrap --email E --password P --org NAME
                                          create a user, an org and an admin API key (printed once)
`;

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
