import { describe, expect, it } from "vitest";
import { utcDay, utcMinute } from "./time";

describe("utcDay / utcMinute", () => {
  it("agree with toISOString at every month, day, hour and minute boundary, and outside years 0–9999", () => {
    const samples = [0, Date.UTC(2026, 11, 3, 8, 5, 59, 999), Date.UTC(2024, 1, 29, 23, 59), Date.UTC(1969, 11, 31, 23, 59), new Date(0).setUTCFullYear(9)];
    samples.push(-62198755200000 - 86_400_000, 253402300800000 + 3_600_000); // year -1, year 10000
    for (let ms = Date.UTC(2025, 0, 1); ms < Date.UTC(2026, 0, 1); ms += 3_607_000) samples.push(ms);
    for (const ms of samples) {
      const iso = new Date(ms).toISOString();
      const date = iso.slice(0, iso.indexOf("T"));
      expect(utcDay(ms)).toBe(date);
      expect(utcMinute(ms)).toBe(`${date} ${iso.slice(iso.indexOf("T") + 1, iso.indexOf("T") + 6)}`);
    }
    expect(utcMinute(Date.UTC(2026, 11, 3, 8, 5))).toBe("2026-12-03 08:05");
    expect(utcDay(new Date(Date.UTC(2000, 0, 1)).setUTCFullYear(33))).toBe("0033-01-01");
  });
});
