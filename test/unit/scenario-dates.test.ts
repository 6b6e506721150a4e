import { describe, expect, it } from "vitest";
import { dateValue, expandDatePlaceholders } from "../../src/scenario/dates.ts";

describe("date placeholders in scenario SQL", () => {
  const now = new Date("2026-12-01T18:00:00Z");

  it("month offsets cross year ends both ways", () => {
    expect(dateValue("month", 0, now)).toBe("2026-12-01 00:00:00+00");
    expect(dateValue("month", 1, now)).toBe("2027-01-01 00:00:00+00");
    expect(dateValue("month", -12, now)).toBe("2025-12-01 00:00:00+00");
    expect(dateValue("day", 31, now)).toBe("2027-01-01 00:00:00+00");
  });

  it("expands placeholders in place and keeps the lines", () => {
    const sql =
      "CREATE TABLE p PARTITION OF t\n  FOR VALUES FROM ('{{month}}') TO ('{{ month + 1 }}');\nSELECT '{{day-1}}';";
    const out = expandDatePlaceholders(sql, now);
    expect(out.unknown).toEqual([]);
    expect(out.text).toBe(
      "CREATE TABLE p PARTITION OF t\n  FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');\nSELECT '2026-11-30 00:00:00+00';",
    );
  });

  it("reports a placeholder it does not know, with its offset", () => {
    const out = expandDatePlaceholders("SELECT '{{week+1}}', '{{month}}'", now);
    expect(out.unknown).toEqual([{ text: "{{week+1}}", offset: 8 }]);
    expect(out.text).toContain("2026-12-01 00:00:00+00");
  });
});
