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
});
