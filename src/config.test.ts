import { describe, expect, it } from "vitest";
import { loadConfig } from "./config";

describe("configuration", () => {
  it("the default public URL follows PORT, and so does the CNAME target's host", () => {
    expect(loadConfig({ PORT: "9000" }).publicUrl).toBe("http://localhost:9000");
    expect(loadConfig({}).publicUrl).toBe("http://localhost:8787");
    // Port 0 (any free port) is only known after listening.
    expect(loadConfig({ PORT: "0" }).publicUrl).toBe("http://localhost:8787");
    expect(loadConfig({ PORT: "9000", OPENPAW_PUBLIC_URL: "https://api.example.com/" }).publicUrl).toBe("https://api.example.com");
    expect(loadConfig({ OPENPAW_PUBLIC_URL: "https://api.example.com" }).domains.cnameTarget).toBe("api.example.com");
  });

  it("reads the operations settings: idempotency TTL, rate limits, metrics, the OTLP traces URL", () => {
    const base = loadConfig({});
    expect(base.idempotencyTtlMs).toBe(24 * 3_600_000);
    expect(base.rateLimits).toEqual({ enabled: true, windowSeconds: 60 });
    expect(base.security.metrics).toBe(false);
    expect(base.tracing).toBeNull();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }).tracing).toEqual({ tracesUrl: "http://collector:4318/v1/traces", serviceName: "openpaw" });
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:4318/x", OTEL_SERVICE_NAME: "gw" }).tracing,
    ).toEqual({ tracesUrl: "http://b:4318/x", serviceName: "gw" });
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => loadConfig({ OPENPAW_RATE_LIMIT_WINDOW_SECONDS: "0" })).toThrow(/OPENPAW_RATE_LIMIT_WINDOW_SECONDS/);
    expect(() => loadConfig({ OPENPAW_RATE_LIMITS: "maybe" })).toThrow(/OPENPAW_RATE_LIMITS/);
  });

  it("times SQL statements only for the diagnostics, which must be on", () => {
    expect(loadConfig({}).security.diagnosticsSql).toBe(false);
    expect(loadConfig({ OPENPAW_DIAGNOSTICS: "true", OPENPAW_DIAGNOSTICS_SQL: "true" }).security.diagnosticsSql).toBe(true);
    expect(() => loadConfig({ OPENPAW_DIAGNOSTICS_SQL: "true" })).toThrow(/OPENPAW_DIAGNOSTICS_SQL.*OPENPAW_DIAGNOSTICS=true/);
  });
});
