import { describe, expect, it } from "vitest";
import { parseRows } from "../../src/cli/options.ts";

describe("parseRows", () => {
  it("keeps underscores in table names", () => {
    expect(parseRows("order_items=100000")).toEqual({ order_items: 100000 });
    expect(parseRows("public.order_items=1_000")).toEqual({ "public.order_items": 1000 });
  });

  it("lets the count use _ separators", () => {
    expect(parseRows("1_000_000")).toEqual({ "*": 1_000_000 });
    expect(parseRows("ledger=2_000", { "*": 5 })).toEqual({ "*": 5, ledger: 2000 });
  });

  it("refuses malformed counts", () => {
    for (const bad of ["0", "ledger=0", "ledger=", "1__000", "_100", "100_", "ledger=abc", "=5"])
      expect(() => parseRows(bad), bad).toThrow(/--rows takes/);
  });
});
