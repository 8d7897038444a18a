/**
 * A Stripe API double on 127.0.0.1 for the few endpoints the gateway uses, speaking Stripe's wire
 * protocol: form-encoded bodies with bracket keys (`line_items[0][price]=...`), Bearer secret key,
 * Stripe-shaped JSON objects and `{"error":{...}}` failures. Requests are recorded with their body
 * decoded; webhooks are signed with the SDK's own test-header helper.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";

export interface StripeRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  /** The form body, decoded into nested objects (numeric keys become arrays). */
  body: Record<string, any>;
}

export interface FakeSubscription {
  id: string;
  customer: string;
  status: Stripe.Subscription.Status;
  price: string;
  /** Epoch ms. */
  periodStart: number;
  periodEnd: number;
  metadata?: Record<string, string>;
}

export interface FakeStripe {
  url: string;
  secretKey: string;
  requests: StripeRequest[];
  /** Meter events Stripe counted: one per identifier, as Stripe dedupes. */
  meterEvents: Map<string, { customer: string; value: number; eventName: string; timestamp: number }>;
  /** Every meter event request received, duplicates included. */
  meterEventAttempts: number;
  setSubscription(sub: FakeSubscription): void;
  /**
   * The next `count` requests to `path` fail with a 500. With `afterProcessing` the request takes
   * effect first and only the response is lost, as when a connection drops mid-reply.
   */
  failNext(path: string, count: number, options?: { afterProcessing?: boolean }): void;
  /** A Stripe event object of `type` carrying `object`. */
  event(type: string, object: Record<string, unknown>): Record<string, unknown>;
  /** The body and Stripe-Signature header of a webhook delivery signed with `secret`. */
  sign(event: unknown, secret: string, timestamp?: number): { payload: string; signature: string };
  close(): Promise<void>;
}

/** Decodes `a[b][0][c]=v&...` into nested objects, the way Stripe reads its form bodies. */
export function decodeForm(text: string): Record<string, any> {
  const root: Record<string, any> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const parts = key.split(/\[|\]\[|\]/).filter((p) => p !== "");
    let node = root;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) node[part] = value;
      else node = node[part] ??= {};
    });
  }
  const arrays = (v: any): any => {
    if (v === null || typeof v !== "object") return v;
    const keys = Object.keys(v);
    const out: any = keys.length > 0 && keys.every((k) => /^\d+$/.test(k)) ? [] : {};
    for (const k of keys) out[k] = arrays(v[k]);
    return out;
  };
  return arrays(root);
}

const stripeError = (status: number, type: string, message: string, param?: string) => ({
  status,
  body: { error: { type, message, ...(param ? { param } : {}) } },
});

/** Starts the fake; `secretKey` is the only key it accepts. */
export async function startFakeStripe(secretKey = "sk_test_x"): Promise<FakeStripe> {
  let seq = 0;
  const next = (prefix: string) => `${prefix}_fake${++seq}`;
  const requests: StripeRequest[] = [];
  const subscriptions = new Map<string, FakeSubscription>();
  const meterEvents: FakeStripe["meterEvents"] = new Map();
  const failures = new Map<string, { count: number; afterProcessing: boolean }>();
  const state = { meterEventAttempts: 0 };

  const subscriptionObject = (s: FakeSubscription) => {
    const start = Math.floor(s.periodStart / 1000);
    const end = Math.floor(s.periodEnd / 1000);
    return {
      id: s.id,
      object: "subscription",
      customer: s.customer,
      status: s.status,
      metadata: s.metadata ?? {},
      cancel_at_period_end: false,
      canceled_at: s.status === "canceled" ? start : null,
      ended_at: s.status === "canceled" ? end : null,
      created: start,
      livemode: false,
      items: {
        object: "list",
        has_more: false,
        data: [
          {
            id: `si_${s.id}`,
            object: "subscription_item",
            price: { id: s.price, object: "price", recurring: { interval: "month" } },
            quantity: 1,
            current_period_start: start,
            current_period_end: end,
          },
        ],
      },
    };
  };

  const handle = (method: string, path: string, body: Record<string, any>): { status: number; body: unknown } => {
    if (method === "POST" && path === "/v1/customers") {
      return {
        status: 200,
        body: { id: next("cus"), object: "customer", name: body.name ?? null, email: body.email ?? null, metadata: body.metadata ?? {} },
      };
    }
    if (method === "POST" && path === "/v1/checkout/sessions") {
      if (!body.line_items?.[0]?.price)
        return stripeError(400, "invalid_request_error", "Missing required param: line_items.", "line_items");
      const id = next("cs_test");
      return {
        status: 200,
        body: {
          id,
          object: "checkout.session",
          mode: body.mode,
          customer: body.customer ?? null,
          client_reference_id: body.client_reference_id ?? null,
          metadata: body.metadata ?? {},
          success_url: body.success_url,
          cancel_url: body.cancel_url,
          subscription: null,
          url: `https://checkout.stripe.test/c/pay/${id}`,
        },
      };
    }
    if (method === "POST" && path === "/v1/billing_portal/sessions") {
      if (!body.customer) return stripeError(400, "invalid_request_error", "Missing required param: customer.", "customer");
      const id = next("bps");
      return {
        status: 200,
        body: {
          id,
          object: "billing_portal.session",
          customer: body.customer,
          return_url: body.return_url ?? null,
          url: `https://billing.stripe.test/p/session/${id}`,
        },
      };
    }
    const sub = /^\/v1\/subscriptions\/([^/]+)$/.exec(path);
    if (method === "GET" && sub) {
      const found = subscriptions.get(decodeURIComponent(sub[1]));
      if (!found) return stripeError(404, "invalid_request_error", `No such subscription: '${sub[1]}'`, "id");
      return { status: 200, body: subscriptionObject(found) };
    }
    if (method === "POST" && path === "/v1/billing/meter_events") {
      state.meterEventAttempts++;
      const value = Number(body.payload?.value);
      if (!body.event_name || !body.payload?.stripe_customer_id || !Number.isFinite(value)) {
        return stripeError(400, "invalid_request_error", "Invalid meter event payload.", "payload");
      }
      const identifier = body.identifier ?? next("mev");
      const timestamp = Number(body.timestamp ?? Math.floor(Date.now() / 1000));
      // Stripe enforces identifier uniqueness: a resend is accepted but counted once.
      if (!meterEvents.has(identifier))
        meterEvents.set(identifier, { customer: body.payload.stripe_customer_id, value, eventName: body.event_name, timestamp });
      return {
        status: 200,
        body: {
          object: "billing.meter_event",
          created: Math.floor(Date.now() / 1000),
          event_name: body.event_name,
          identifier,
          livemode: false,
          payload: body.payload,
          timestamp,
        },
      };
    }
    return stripeError(404, "invalid_request_error", `Unrecognized request URL (${method}: ${path}).`);
  };

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://x");
    const method = req.method ?? "GET";
    const text = Buffer.concat(chunks).toString("utf8");
    const body = method === "GET" ? decodeForm(url.search.slice(1)) : decodeForm(text);
    requests.push({ method, path: url.pathname, headers: req.headers, body });
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { "content-type": "application/json", "request-id": `req_fake${++seq}` });
      res.end(JSON.stringify(payload));
    };
    if (req.headers.authorization !== `Bearer ${secretKey}`) {
      const e = stripeError(401, "invalid_request_error", "Invalid API Key provided.");
      return send(e.status, e.body);
    }
    const failure = failures.get(url.pathname);
    if (failure && failure.count > 0) {
      failure.count--;
      if (failure.afterProcessing) handle(method, url.pathname, body);
      const e = stripeError(500, "api_error", "Something went wrong on Stripe's end.");
      return send(e.status, e.body);
    }
    const result = handle(method, url.pathname, body);
    send(result.status, result.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    secretKey,
    requests,
    meterEvents,
    get meterEventAttempts() {
      return state.meterEventAttempts;
    },
    setSubscription(s) {
      subscriptions.set(s.id, s);
    },
    failNext(path, count, options = {}) {
      failures.set(path, { count, afterProcessing: options.afterProcessing ?? false });
    },
    event(type, object) {
      return {
        id: next("evt"),
        object: "event",
        type,
        api_version: Stripe.API_VERSION,
        created: Math.floor(Date.now() / 1000),
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        data: { object },
      };
    },
    sign(event, secret, timestamp) {
      const payload = JSON.stringify(event);
      const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) });
      return { payload, signature };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
