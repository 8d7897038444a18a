/** Says loudly which external services this run uses, and which suites are skipped without them. */
export default function setup(): void {
  const lines: string[] = [];
  lines.push(
    process.env.TEST_DATABASE_URL
      ? `PostgreSQL: suites run against ${redactUrl(process.env.TEST_DATABASE_URL)}`
      : "PostgreSQL: SKIPPED (set TEST_DATABASE_URL=postgres://... to run the suites on PostgreSQL too)",
  );
  lines.push(
    process.env.REDIS_URL
      ? `Redis: rate-limit and coordination tests use ${redactUrl(process.env.REDIS_URL)}`
      : "Redis: SKIPPED (set REDIS_URL=redis://... to run the Redis tests)",
  );
  console.log(`\n==== OpenPaw test environment ====\n${lines.join("\n")}\n==================================\n`);
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
