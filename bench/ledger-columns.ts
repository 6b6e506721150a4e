/** The ledger-shaped columns the benches seed: a skewed account, money, an ascending time, a kind, a uuid. */
export const LEDGER_COLUMNS = {
  id: { gen: "serial" },
  account_id: { gen: "zipf", min: 1, max: 100_000, s: 1.1 },
  amount: { gen: "uniform", min: -500, max: 500, decimals: 2 },
  created_at: { gen: "timestamp", from: "2024-01-01", to: "2024-12-31", order: "ascending" },
  kind: { gen: "choice", values: { debit: 3, credit: 2, refund: 0.1 } },
  ref: { gen: "uuid", null_fraction: 0.1 },
} as const;
