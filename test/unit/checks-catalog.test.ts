/**
 * evaluate() of the snapshot-only checks over hand-built snapshots: an attach-history cutover of `ledger`
 * that carries everything over (must pass), and one mutation per case that each check must catch.
 */
import { describe, expect, it } from "vitest";
import type { CatalogSnapshot, TableInfo } from "../../src/catalog/types.ts";
import { CHECKS } from "../../src/checks/registry.ts";
import { type Invariant, Invariant as InvariantSchema } from "../../src/scenario/schema.ts";
import {
  col,
  con,
  fk,
  idx,
  key,
  policy,
  rangeOn,
  snapshot,
  table,
  trg,
} from "../support/catalog-fixtures.ts";

const columns = () => [
  col("id", "bigint", {
    notNull: true,
    default: "nextval('ledger_id_seq'::regclass)",
    sequence: "public.ledger_id_seq",
  }),
  col("account_id", "bigint", { notNull: true }),
  col("amount", "numeric(12,2)", { notNull: true }),
  col("idempotency_key", "uuid", { notNull: true }),
  col("created_at", "timestamp with time zone", { notNull: true, default: "now()" }),
];
const uuidKey = (name: string) => key(name, { opclass: "uuid_ops" });
const tsKey = (opts = {}) => key("created_at", { opclass: "timestamptz_ops", ...opts });
const grants = () => [
  { grantee: "app_rw", privileges: ["INSERT", "SELECT"], grantable: [] },
  { grantee: "postgres", privileges: ["DELETE", "INSERT", "SELECT", "UPDATE"], grantable: [] },
];
const rls = () => ({ enabled: true, forced: false, policies: [policy("ledger_by_account")] });

/** The original ledger, before the migration. */
function original(): TableInfo {
  return table("ledger", {
    columns: columns(),
    indexes: [
      idx("ledger_pkey", ["id"], { unique: true, primary: true, constraint: "ledger_pkey" }),
      idx("ledger_idempotency_key_key", [uuidKey("idempotency_key")], { unique: true }),
      idx("ledger_account_created_idx", ["account_id", tsKey({ desc: true })]),
      idx("ledger_recent_idx", ["account_id"], { predicate: "amount > 0::numeric" }),
    ],
    constraints: [
      con("ledger_pkey", "p", "PRIMARY KEY (id)", ["id"]),
      con("ledger_idempotency_key_key", "u", "UNIQUE (idempotency_key)", ["idempotency_key"]),
      con("ledger_amount_check", "c", "CHECK (amount <> 0::numeric)", ["amount"]),
    ],
    triggers: [
      trg("ledger_stamp", { function: "public.ledger_stamp" }),
      trg("RI_ConstraintTrigger_c_1", { internal: true, timing: "AFTER" }),
    ],
    grants: grants(),
    rls: rls(),
  });
}

const accounts = () => table("accounts", { columns: [col("id", "bigint", { notNull: true })] });
const refunds = () =>
  table("refunds", { columns: [col("ledger_id"), col("ledger_created_at", "timestamp with time zone")] });

/** After a faithful cutover: partitioned ledger, history attached, one new partition. */
function afterCutover(
  mutate?: (s: {
    parent: TableInfo;
    history: TableInfo;
    p1: TableInfo;
    fks: ReturnType<typeof fk>[];
  }) => void,
): CatalogSnapshot {
  const parent = table("ledger", {
    partitioning: rangeOn("created_at"),
    columns: columns(),
    indexes: [
      idx("ledger_pkey", ["id", tsKey()], { unique: true, primary: true, partitioned: true }),
      idx("ledger_idempotency_key_key", [uuidKey("idempotency_key"), tsKey()], {
        unique: true,
        partitioned: true,
      }),
      idx("ledger_account_created_idx2", ["account_id", tsKey({ desc: true })], { partitioned: true }),
      idx("ledger_recent_idx", ["account_id"], { predicate: "amount > 0::numeric", partitioned: true }),
    ],
    constraints: [
      con("ledger_pkey", "p", "PRIMARY KEY (id, created_at)", ["id", "created_at"]),
      con("ledger_idempotency_key_key", "u", "UNIQUE (idempotency_key, created_at)", [
        "idempotency_key",
        "created_at",
      ]),
      con("ledger_amount_check", "c", "CHECK (amount <> 0::numeric)", ["amount"]),
    ],
    triggers: [trg("ledger_stamp", { function: "public.ledger_stamp" })],
    grants: grants(),
    rls: rls(),
  });
  const child = (name: string, bound: string) => {
    const t = table(name, {
      partitionOf: { parent: "ledger", bound },
      columns: columns(),
      grants: grants(),
      rls: rls(),
      triggers: [
        trg("ledger_stamp", { function: "public.ledger_stamp", parentTriggerOid: parent.triggers[0]!.oid }),
      ],
    });
    t.indexes = parent.indexes.map((p) => ({
      ...idx(`${name}_${p.name}`, p.keys, { unique: p.unique }),
      parentIndexOid: p.oid,
    }));
    return t;
  };
  const history = child("ledger_history", "FOR VALUES FROM (MINVALUE) TO ('2025-01-01 00:00:00+00')");
  history.constraints = [
    con(
      "ledger_history_range",
      "c",
      "CHECK (created_at < '2025-01-01 00:00:00+00'::timestamp with time zone)",
      ["created_at"],
    ),
  ];
  const p1 = child("ledger_p1", "FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2025-02-01 00:00:00+00')");
  const fks = [fk("ledger_account_id_fkey", "ledger", ["account_id"], "accounts", ["id"])];
  mutate?.({ parent, history, p1, fks });
  return snapshot([parent, history, p1, accounts(), refunds()], { foreignKeys: fks });
}

function beforeCutover(
  mutate?: (t: TableInfo) => void,
  extraFks: ReturnType<typeof fk>[] = [],
): CatalogSnapshot {
  const t = original();
  mutate?.(t);
  return snapshot([t, accounts(), refunds()], {
    foreignKeys: [fk("ledger_account_id_fkey", "ledger", ["account_id"], "accounts", ["id"]), ...extraFks],
  });
}

const inv = (raw: Record<string, unknown>): Invariant => InvariantSchema.parse(raw);

function run(raw: Record<string, unknown>, b: CatalogSnapshot, a: CatalogSnapshot) {
  const i = inv(raw);
  const check = CHECKS[i.check] as (typeof CHECKS)["indexes_preserved"];
  return check.evaluate(i as Extract<Invariant, { check: "indexes_preserved" }>, {
    before: b,
    after: a,
    gathered: {},
  });
}

interface Case {
  name: string;
  before?: CatalogSnapshot;
  after: CatalogSnapshot;
  status: "pass" | "fail" | "error";
  finding?: RegExp;
}

function table_driven(check: Record<string, unknown>, cases: Case[]) {
  it.each(cases)("$name → $status", (c) => {
    const r = run(check, c.before ?? beforeCutover(), c.after);
    expect(r.status, JSON.stringify(r, null, 1)).toBe(c.status);
    if (c.finding) expect([r.summary, ...r.findings].join("\n")).toMatch(c.finding);
    if (c.status === "fail") {
      expect(r.findings.length).toBeGreaterThan(0);
      expect(r.remediation).toBeTruthy();
    }
  });
}

const pair = { original: "ledger", target: "ledger" };

describe("indexes_preserved", () => {
  table_driven({ check: "indexes_preserved", ...pair }, [
    {
      name: "faithful cutover (unique keys gained created_at, renamed index)",
      after: afterCutover(),
      status: "pass",
    },
    {
      name: "index missing",
      after: afterCutover(({ parent }) => {
        parent.indexes = parent.indexes.filter((i) => !i.name.startsWith("ledger_account"));
      }),
      status: "fail",
      finding:
        /ledger_account_created_idx \(btree \(account_id, created_at DESC\)\) has no equivalent on public\.ledger/,
    },
    {
      name: "direction lost",
      after: afterCutover(({ parent }) => {
        parent.indexes[2] = idx("ledger_account_created_idx", ["account_id", tsKey()], { partitioned: true });
      }),
      status: "fail",
      finding: /ledger_account_created_idx .* has no equivalent/,
    },
    {
      name: "predicate dropped",
      after: afterCutover(({ parent }) => {
        parent.indexes[3] = idx("ledger_recent_idx", ["account_id"], { partitioned: true });
      }),
      status: "fail",
      finding:
        /ledger_recent_idx .*closest on public\.ledger is ledger_recent_idx, but predicate \(none\) instead of amount > 0::numeric/,
    },
    {
      name: "unique index recreated as non-unique",
      after: afterCutover(({ parent }) => {
        parent.indexes[1] = idx("ledger_idempotency_key_key", [uuidKey("idempotency_key")], {
          partitioned: true,
        });
      }),
      status: "fail",
      finding: /ledger_idempotency_key_key .*it is not UNIQUE/,
    },
    {
      name: "unique gained a column that is not the partition key",
      after: afterCutover(({ parent }) => {
        parent.indexes[1] = idx("k", [uuidKey("idempotency_key"), "account_id"], {
          unique: true,
          partitioned: true,
        });
      }),
      status: "fail",
      finding: /ledger_idempotency_key_key \(UNIQUE .*\) has no equivalent/,
    },
    {
      name: "method changed",
      after: afterCutover(({ parent }) => {
        parent.indexes[3] = idx("ledger_recent_idx", ["account_id"], {
          method: "hash",
          predicate: "amount > 0::numeric",
        });
      }),
      status: "fail",
      finding: /method hash instead of btree/,
    },
    {
      name: "original missing before",
      before: snapshot([accounts()]),
      after: afterCutover(),
      status: "error",
      finding: /public\.ledger .*does not exist before the migration; fix the scenario's invariant/,
    },
    {
      name: "target missing after",
      after: snapshot([accounts()]),
      status: "fail",
      finding: /does not exist after the migration/,
    },
  ]);
});

describe("indexes_valid", () => {
  table_driven({ check: "indexes_valid", tables: ["ledger"] }, [
    { name: "all valid and attached", after: afterCutover(), status: "pass" },
    {
      name: "partition missing its child index",
      after: afterCutover(({ p1 }) => {
        p1.indexes = p1.indexes.slice(1);
      }),
      status: "fail",
      finding: /partition public\.ledger_p1 has no index attached to public\.ledger_pkey/,
    },
    {
      name: "invalid index on a partition",
      after: afterCutover(({ history }) => {
        history.indexes[2]!.valid = false;
      }),
      status: "fail",
      finding:
        /index public\.ledger_history_ledger_account_created_idx2 on public\.ledger_history is INVALID/,
    },
    {
      name: "index not ready",
      after: afterCutover(({ parent }) => {
        parent.indexes[0]!.ready = false;
      }),
      status: "fail",
      finding: /not ready/,
    },
    {
      name: "listed table missing",
      after: snapshot([accounts()]),
      status: "error",
      finding: /public\.ledger .*does not exist after the migration; fix the scenario's invariant/,
    },
  ]);
});

describe("triggers_preserved", () => {
  table_driven({ check: "triggers_preserved", ...pair }, [
    {
      name: "trigger moved to the parent (internal FK triggers ignored)",
      after: afterCutover(),
      status: "pass",
    },
    {
      name: "trigger not recreated",
      after: afterCutover(({ parent }) => {
        parent.triggers = [];
      }),
      status: "fail",
      finding:
        /trigger ledger_stamp \(BEFORE INSERT FOR EACH ROW EXECUTE FUNCTION public\.ledger_stamp\(\)\) is missing on public\.ledger/,
    },
    {
      name: "recreated disabled",
      after: afterCutover(({ parent }) => {
        parent.triggers[0]!.enabled = "D";
      }),
      status: "fail",
      finding: /disabled instead of enabled/,
    },
    {
      name: "different events and timing",
      after: afterCutover(({ parent }) => {
        parent.triggers[0] = trg("ledger_stamp", {
          function: "public.ledger_stamp",
          timing: "AFTER",
          events: ["INSERT", "UPDATE"],
        });
      }),
      status: "fail",
      finding: /timing AFTER instead of BEFORE; events INSERT OR UPDATE instead of INSERT/,
    },
    {
      name: "renamed",
      after: afterCutover(({ parent }) => {
        parent.triggers[0] = trg("ledger_stamp_v2", { function: "public.ledger_stamp" });
      }),
      status: "fail",
      finding:
        /trigger ledger_stamp is missing on public\.ledger; an identical trigger is named ledger_stamp_v2/,
    },
    {
      name: "old copy left on the history partition fires twice",
      after: afterCutover(({ history }) => {
        history.triggers.push(trg("ledger_stamp_old", { function: "public.ledger_stamp" }));
      }),
      status: "fail",
      finding: /partition public\.ledger_history still has its own trigger ledger_stamp_old .* fires twice/,
    },
    {
      name: "target gone is a failure",
      after: snapshot([accounts()]),
      status: "fail",
      finding: /Target public\.ledger does not exist/,
    },
  ]);
});

describe("constraints_preserved", () => {
  const withRangeCheck = beforeCutover((t) => {
    t.constraints.push(
      con(
        "ledger_history_range",
        "c",
        "CHECK (created_at < '2025-01-01 00:00:00+00'::timestamp with time zone)",
        ["created_at"],
      ),
    );
  });
  table_driven({ check: "constraints_preserved", ...pair }, [
    {
      name: "PK/UNIQUE gained the partition key; CHECK and NOT NULL kept",
      after: afterCutover(),
      status: "pass",
    },
    {
      name: "partition-range CHECK kept on the history partition is accepted",
      before: withRangeCheck,
      after: afterCutover(),
      status: "pass",
      finding: /ledger_history_range kept on partition public\.ledger_history as its range proof/,
    },
    {
      name: "partition-key CHECK dropped altogether is reported",
      before: withRangeCheck,
      after: afterCutover(({ history }) => {
        history.constraints = [];
      }),
      status: "fail",
      finding:
        /CHECK ledger_history_range \(CHECK \(created_at < .*\)\) has no counterpart on public\.ledger/,
    },
    {
      name: "CHECK left NOT VALID",
      after: afterCutover(({ parent }) => {
        parent.constraints[2] = con(
          "ledger_amount_check",
          "c",
          "CHECK (amount <> 0::numeric) NOT VALID",
          ["amount"],
          { validated: false },
        );
      }),
      status: "fail",
      finding: /CHECK ledger_amount_check on public\.ledger is NOT VALID/,
    },
    {
      name: "CHECK missing",
      after: afterCutover(({ parent }) => {
        parent.constraints = parent.constraints.slice(0, 2);
      }),
      status: "fail",
      finding: /CHECK ledger_amount_check \(CHECK \(amount <> 0::numeric\)\) has no counterpart/,
    },
    {
      name: "UNIQUE replaced by a plain index",
      after: afterCutover(({ parent }) => {
        parent.constraints = parent.constraints.filter((c) => c.type !== "u");
      }),
      status: "fail",
      finding: /UNIQUE ledger_idempotency_key_key \(UNIQUE \(idempotency_key\)\) has no counterpart/,
    },
    {
      name: "PRIMARY KEY on other columns",
      after: afterCutover(({ parent }) => {
        parent.constraints[0] = con("ledger_pkey", "p", "PRIMARY KEY (idempotency_key, created_at)", [
          "idempotency_key",
          "created_at",
        ]);
      }),
      status: "fail",
      finding: /PRIMARY KEY ledger_pkey/,
    },
    {
      name: "NOT NULL lost",
      after: afterCutover(({ parent }) => {
        parent.columns[2]!.notNull = false;
      }),
      status: "fail",
      finding: /column amount is NOT NULL on public\.ledger but nullable on public\.ledger/,
    },
  ]);
});

describe("grants_preserved", () => {
  table_driven({ check: "grants_preserved", ...pair }, [
    { name: "grants on parent and every partition", after: afterCutover(), status: "pass" },
    {
      name: "new partition without grants",
      after: afterCutover(({ p1 }) => {
        p1.grants = p1.grants.filter((g) => g.grantee !== "app_rw");
      }),
      status: "fail",
      finding: /^app_rw lacks INSERT, SELECT on public\.ledger_p1 \(had it on public\.ledger\)$/m,
    },
    {
      name: "parent lost a privilege",
      after: afterCutover(({ parent }) => {
        parent.grants[0] = { grantee: "app_rw", privileges: ["SELECT"], grantable: [] };
      }),
      status: "fail",
      finding: /app_rw lacks INSERT on public\.ledger /,
    },
    {
      name: "grant option lost",
      before: beforeCutover((t) => {
        t.grants[0] = { grantee: "app_rw", privileges: ["INSERT", "SELECT"], grantable: ["SELECT"] };
      }),
      after: afterCutover(),
      status: "fail",
      finding: /app_rw lost WITH GRANT OPTION for SELECT on public\.ledger/,
    },
    {
      name: "owner changed",
      after: afterCutover(({ parent }) => {
        parent.owner = "migrator";
      }),
      status: "fail",
      finding: /public\.ledger is owned by migrator, public\.ledger was owned by postgres/,
    },
  ]);
});

describe("rls_preserved", () => {
  table_driven({ check: "rls_preserved", ...pair }, [
    { name: "RLS and policy on parent and partitions", after: afterCutover(), status: "pass" },
    {
      name: "partition without RLS",
      after: afterCutover(({ p1 }) => {
        p1.rls = { enabled: false, forced: false, policies: [] };
      }),
      status: "fail",
      finding: /row level security is not enabled on public\.ledger_p1/,
    },
    {
      name: "policy with different roles",
      after: afterCutover(({ parent }) => {
        parent.rls.policies = [policy("ledger_by_account", { roles: ["public"] })];
      }),
      status: "fail",
      finding: /policy ledger_by_account on public\.ledger differs: TO public instead of app_rw/,
    },
    {
      name: "FORCE lost",
      before: beforeCutover((t) => {
        t.rls.forced = true;
      }),
      after: afterCutover(),
      status: "fail",
      finding: /not FORCEd on public\.ledger /,
    },
  ]);
});

describe("fks_preserved", () => {
  const incoming = fk("refunds_ledger_fkey", "refunds", ["ledger_id"], "ledger", ["id"]);
  table_driven({ check: "fks_preserved", ...pair }, [
    { name: "outgoing FK recreated on the parent", after: afterCutover(), status: "pass" },
    {
      name: "outgoing FK missing",
      after: afterCutover((s) => {
        s.fks.length = 0;
      }),
      status: "fail",
      finding:
        /FK ledger_account_id_fkey \(public\.ledger \(account_id\) → public\.accounts \(id\), ON DELETE no action\) is missing on public\.ledger/,
    },
    {
      name: "outgoing FK with a different ON DELETE",
      after: afterCutover((s) => {
        s.fks[0] = fk("ledger_account_id_fkey", "ledger", ["account_id"], "accounts", ["id"], {
          onDelete: "cascade",
        });
      }),
      status: "fail",
      finding: /is missing on public\.ledger/,
    },
    {
      name: "incoming FK re-pointed with the partition key added",
      before: beforeCutover(undefined, [incoming]),
      after: afterCutover((s) => {
        s.fks.push(
          fk("refunds_ledger_fkey", "refunds", ["ledger_id", "ledger_created_at"], "ledger", [
            "id",
            "created_at",
          ]),
        );
      }),
      status: "pass",
    },
    {
      name: "incoming FK followed the rename",
      before: beforeCutover(undefined, [incoming]),
      after: afterCutover((s) => {
        s.fks.push(fk("refunds_ledger_fkey", "refunds", ["ledger_id"], "ledger_history", ["id"]));
      }),
      status: "fail",
      finding:
        /FK refunds_ledger_fkey on public\.refunds now references public\.ledger_history instead of public\.ledger/,
    },
    {
      name: "incoming FK dropped",
      before: beforeCutover(undefined, [incoming]),
      after: afterCutover(),
      status: "fail",
      finding: /FK refunds_ledger_fkey .* no longer exists/,
    },
    {
      name: "incoming FK re-added NOT VALID",
      before: beforeCutover(undefined, [incoming]),
      after: afterCutover((s) => {
        s.fks.push(
          fk(
            "refunds_ledger_fkey2",
            "refunds",
            ["ledger_id", "ledger_created_at"],
            "ledger",
            ["id", "created_at"],
            { validated: false },
          ),
        );
      }),
      status: "fail",
      finding: /NOT VALID/,
    },
  ]);
});
