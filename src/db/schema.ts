/**
 * Table types for Kysely. Times are epoch milliseconds, booleans 0/1, JSON as text (DESIGN.md §4).
 * Each feature's tables are declared beside its migration and merged into `Database` here.
 */
import type { Generated } from "kysely";

export interface OrgsTable {
  id: string;
  name: string;
  plan: string;
  /** Subscription status as Stripe reports it: active, past_due, canceled; "none" without one. */
  plan_status: string;
  stripe_customer_id: string | null;
  stripe_subscription_id: string | null;
  period_start: number | null;
  period_end: number | null;
  created_at: number;
  updated_at: number;
}

export interface UsersTable {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

export interface MembershipsTable {
  org_id: string;
  user_id: string;
  role: "owner" | "admin" | "member";
  created_at: number;
}

export interface SessionsTable {
  /** SHA-256 of the cookie token, hex. */
  id: string;
  user_id: string;
  created_at: number;
  expires_at: number;
}

export interface ApiKeysTable {
  id: string;
  org_id: string;
  name: string | null;
  prefix: string;
  last4: string;
  /** SHA-256 of the full key, hex. */
  key_hash: string;
  /** JSON array of scopes. */
  scopes: string;
  /** JSON array of agent ids, or null for all agents. */
  agent_ids: string | null;
  created_by: string | null;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface FoundationTables {
  orgs: OrgsTable;
  users: UsersTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  api_keys: ApiKeysTable;
}

export interface AgentsTable {
  id: string;
  org_id: string;
  name: string;
  description: string | null;
  system_prompt: string;
  model: string;
  temperature: number;
  max_iterations: number;
  /** JSON array of tool names. */
  enabled_tools: string;
  /** JSON object of the user's own. */
  metadata: string;
  created_at: number;
  updated_at: number;
}

export interface SkillsTable {
  id: string;
  org_id: string;
  name: string;
  description: string;
  content: string;
  /** JSON array of {name, content}. */
  files: string;
  created_at: number;
  updated_at: number;
}

export interface AgentSkillsTable {
  org_id: string;
  agent_id: string;
  skill_id: string;
  created_at: number;
}

export interface ConversationsTable {
  id: string;
  org_id: string;
  agent_id: string;
  title: string | null;
  created_at: number;
  updated_at: number;
}

export interface MessagesTable {
  id: string;
  org_id: string;
  conversation_id: string;
  run_id: string;
  /** Order within the conversation. */
  seq: number;
  role: "user" | "assistant" | "tool";
  /** JSON of the runtime's ChatMessage. */
  content: string;
  created_at: number;
}

/**
 * `queued` (waiting for a slot), `running`, `requires_action` (waiting for a decision), then one
 * of the ended states. `interrupted` = ended by a failure it could not survive.
 */
export type RunStatus = "queued" | "running" | "requires_action" | "completed" | "max_iterations" | "error" | "cancelled" | "interrupted";

export interface RunsTable {
  id: string;
  org_id: string;
  agent_id: string;
  conversation_id: string;
  parent_run_id: string | null;
  api_key_id: string | null;
  user_id: string | null;
  /** The schedule whose tick started the run, if any. */
  schedule_id: string | null;
  model: string;
  status: RunStatus;
  /** 0/1: runs without depending on any connection; continued by another gateway after a crash. */
  background: number;
  /** The user message that started the run. */
  input: string;
  /** The caller's own system instructions for this run (after the agent's prompt), or null. */
  instructions: string | null;
  /** JSON of the turns the caller supplied before `input` (ChatMessage[]), or null. */
  prelude: string | null;
  /** end_turn, max_iterations, error, cancelled once ended; null before. */
  stop_reason: string | null;
  /** JSON {type, message} of the failure that ended the run, or null. */
  error: string | null;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost: number;
  iterations: number;
  tool_calls: number;
  /** seq of the newest event in run_events (0 before the first). */
  last_event_seq: number;
  /** The gateway instance executing the run, and until when its claim holds. */
  lease_owner: string | null;
  lease_expires_at: number | null;
  cancel_requested_at: number | null;
  /** When the retention sweep removed the run's event log. */
  events_expired_at: number | null;
  created_at: number;
  started_at: number | null;
  updated_at: number;
  ended_at: number | null;
}

/** One event of a run's log: `seq` 1, 2, 3, … per run, as sent in SSE `id:` lines. */
export interface RunEventsTable {
  run_id: string;
  seq: number;
  org_id: string;
  event: string;
  /** JSON of the event's data. */
  data: string;
  created_at: number;
}

export interface UsageRecordsTable {
  id: string;
  org_id: string;
  agent_id: string;
  /** The agent's name when the run happened: summaries still name deleted agents. */
  agent_name: string;
  conversation_id: string;
  /** Unique: a run has exactly one usage record. */
  run_id: string;
  parent_run_id: string | null;
  api_key_id: string | null;
  user_id: string | null;
  /** The schedule whose tick started the run, if any. */
  schedule_id: string | null;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  tokens: number;
  cost: number;
  iterations: number;
  tool_calls: number;
  status: string;
  duration_ms: number;
  created_at: number;
}

export interface MemoryNotesTable {
  id: string;
  org_id: string;
  agent_id: string;
  content: string;
  created_at: number;
}

export interface MemoryHistoryTable {
  id: string;
  org_id: string;
  agent_id: string;
  conversation_id: string | null;
  content: string;
  created_at: number;
}

export interface AgentTables {
  agents: AgentsTable;
  skills: SkillsTable;
  agent_skills: AgentSkillsTable;
}

export interface RuntimeTables {
  conversations: ConversationsTable;
  messages: MessagesTable;
  runs: RunsTable;
  run_events: RunEventsTable;
  usage_records: UsageRecordsTable;
  memory_notes: MemoryNotesTable;
  memory_history: MemoryHistoryTable;
}

export type CustomDomainStatus = "pending" | "active" | "failed";

export interface CustomDomainsTable {
  id: string;
  org_id: string;
  /** Normalised: lower case, ASCII (punycode), no trailing dot. */
  domain: string;
  /** The value expected in the TXT record, after "openpaw-verify=". */
  token: string;
  status: CustomDomainStatus;
  /** 0/1: the CNAME pointed at the target at the last check. */
  cname_ok: number;
  failure_reason: string | null;
  /** DNS checks made since verification (re)started; drives the sweep's backoff. */
  attempts: number;
  /** When verification (re)started; the 72-hour window counts from here. */
  pending_since: number;
  checked_at: number | null;
  next_check_at: number;
  verified_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface DomainTables {
  custom_domains: CustomDomainsTable;
}

/** Per-org per-UTC-day per-agent rollup of usage_records, updated in the same transaction. */
export interface UsageDailyTable {
  org_id: string;
  /** Epoch ms of the UTC midnight starting the day. */
  day: number;
  agent_id: string;
  runs: number;
  tokens: number;
  input_tokens: number;
  output_tokens: number;
  tool_calls: number;
  cost: number;
}

/** Token counter of one org for one quota period (created on demand by an upsert). */
export interface OrgQuotaTable {
  org_id: string;
  period_start: number;
  tokens_used: number;
  tokens_reserved: number;
  /** Overage tokens already queued for Stripe in this period. */
  overage_enqueued: number;
  updated_at: number;
}

/** Stripe webhook events already handled (each id once). */
export interface StripeEventsTable {
  id: string;
  type: string;
  received_at: number;
}

/** Overage meter events waiting for (or acknowledged by) Stripe. */
export interface OverageOutboxTable {
  /** Deterministic `${orgId}:${periodStart}:${seq}`; Stripe dedupes on it. */
  identifier: string;
  org_id: string;
  stripe_customer_id: string;
  value: number;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
  sent_at: number | null;
  last_error: string | null;
}

export interface BillingTables {
  usage_daily: UsageDailyTable;
  org_quota: OrgQuotaTable;
  stripe_events: StripeEventsTable;
  overage_outbox: OverageOutboxTable;
}

/** An org's MCP server; `headers_enc` is the encrypted JSON of its headers (null without any). */
export interface McpServersTable {
  id: string;
  org_id: string;
  /** Slug, unique per org: tools are offered as mcp__<name>__<tool>. */
  name: string;
  url: string;
  headers_enc: string | null;
  /** JSON object header name -> masked value, for display. */
  headers_masked: string;
  enabled: number;
  created_at: number;
  updated_at: number;
}

export type ChannelType = "slack" | "discord" | "telegram" | "webhook";

/** A place the message tool posts to; `config_enc` is the encrypted JSON of the full config. */
export interface ChannelsTable {
  id: string;
  org_id: string;
  name: string;
  type: ChannelType;
  config_enc: string;
  /** JSON of the config with secret parts masked, for display. */
  config_masked: string;
  created_at: number;
  updated_at: number;
}

export interface IntegrationTables {
  mcp_servers: McpServersTable;
  channels: ChannelsTable;
}

/** A run created through `/openai/v1/responses`: what its Response echoes beyond the run. */
export interface OpenAiResponsesTable {
  run_id: string;
  org_id: string;
  /** 0/1: `store: false` responses cannot be retrieved or continued afterwards. */
  store: number;
  previous_response_id: string | null;
  /** JSON object of up to 16 string pairs, or null. */
  metadata: string | null;
  created_at: number;
}

export interface CompatibleSurfaceTables {
  openai_responses: OpenAiResponsesTable;
}

/** An org's webhook endpoint (receiver of run events). */
export interface WebhookEndpointsTable {
  id: string;
  org_id: string;
  url: string;
  /** JSON array of event types. */
  events: string;
  description: string | null;
  /** 0/1. */
  enabled: number;
  /** Why the gateway disabled it (failing for 3 days), null when enabled or disabled by a person. */
  disabled_reason: string | null;
  /** The signing secret (`whsec_…`), encrypted bound to the endpoint id. */
  secret_enc: string;
  /** The secret before the last rotation, still signed with until `previous_secret_expires_at`. */
  previous_secret_enc: string | null;
  previous_secret_expires_at: number | null;
  /** First failed attempt since the last success; null while it succeeds. */
  failing_since: number | null;
  created_at: number;
  updated_at: number;
}

export type WebhookDeliveryStatus = "pending" | "delivered" | "failed";

/** The webhook outbox and delivery log: one row per event and endpoint, its id the `webhook-id`. */
export interface WebhookDeliveriesTable {
  id: string;
  org_id: string;
  webhook_id: string;
  run_id: string | null;
  event: string;
  /** The JSON body, fixed when the row is written: every attempt sends the same bytes. */
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  /** When the next attempt is due; null once delivered or given up. */
  next_attempt_at: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  /** HTTP status of the last attempt (null when it got no response). */
  response_code: number | null;
  last_error: string | null;
  last_attempt_at: number | null;
  delivered_at: number | null;
  created_at: number;
}

export interface SchedulesTable {
  id: string;
  org_id: string;
  agent_id: string;
  cron: string;
  /** IANA time zone the cron expression is read in. */
  timezone: string;
  message: string;
  /** 0/1. */
  enabled: number;
  /** Every tick continues this conversation; null = a new conversation per tick. */
  conversation_id: string | null;
  /** Its creator, whose access each tick's run has. */
  api_key_id: string | null;
  user_id: string | null;
  /** The next tick, null when disabled. */
  next_run_at: number | null;
  last_run_at: number | null;
  last_run_id: string | null;
  /** Why the last tick started no run, null when it did. */
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** A tick claimed by a gateway: unique per schedule and tick time. */
export interface ScheduleTicksTable {
  schedule_id: string;
  tick_at: number;
  org_id: string;
  run_id: string | null;
  created_at: number;
}

export interface UnattendedTables {
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  schedules: SchedulesTable;
  schedule_ticks: ScheduleTicksTable;
}

export interface Database
  extends FoundationTables,
    AgentTables,
    RuntimeTables,
    DomainTables,
    BillingTables,
    IntegrationTables,
    CompatibleSurfaceTables,
    UnattendedTables {}

export type { Generated };
