/**
 * rls_preserved: row-level security as the original had it (ENABLE, FORCE, and each policy's command,
 * permissive/restrictive, roles, USING and WITH CHECK) holds on the target parent and on every partition.
 * A query through the parent applies only the parent's policies; one that names a partition applies only
 * that partition's, so a partition without them exposes every row to anyone with the privilege (seeds/003).
 * Policies are matched by name, then compared.
 */
import type { CatalogSnapshot, PolicyInfo, TableInfo } from "../catalog/types.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { InvariantCheck } from "./check.ts";
import {
  descendants,
  fail,
  findTable,
  missingTable,
  missingTarget,
  type Outcome,
  pass,
  plural,
} from "./common.ts";

type Inv = Extract<Invariant, { check: "rls_preserved" }>;

function policyDifferences(o: PolicyInfo, t: PolicyInfo): string[] {
  const d: string[] = [];
  if (o.command !== t.command) d.push(`FOR ${t.command} instead of ${o.command}`);
  if (o.permissive !== t.permissive)
    d.push(t.permissive ? "PERMISSIVE instead of RESTRICTIVE" : "RESTRICTIVE instead of PERMISSIVE");
  if (o.roles.join(",") !== t.roles.join(","))
    d.push(`TO ${t.roles.join(", ")} instead of ${o.roles.join(", ")}`);
  if (o.using !== t.using) d.push(`USING (${t.using ?? ""}) instead of (${o.using ?? ""})`);
  if (o.check !== t.check) d.push(`WITH CHECK (${t.check ?? ""}) instead of (${o.check ?? ""})`);
  return d;
}

function compareRls(original: TableInfo, table: TableInfo): string[] {
  const findings: string[] = [];
  if (original.rls.enabled && !table.rls.enabled) {
    findings.push(
      `row level security is not enabled on ${table.qualifiedName} (enabled on ${original.qualifiedName})`,
    );
  }
  if (original.rls.forced && !table.rls.forced) {
    findings.push(
      `row level security is not FORCEd on ${table.qualifiedName} (forced on ${original.qualifiedName})`,
    );
  }
  for (const o of original.rls.policies) {
    const t = table.rls.policies.find((p) => p.name === o.name);
    if (!t)
      findings.push(
        `policy ${o.name} (FOR ${o.command} TO ${o.roles.join(", ")}) is missing on ${table.qualifiedName}`,
      );
    else {
      const diffs = policyDifferences(o, t);
      if (diffs.length > 0)
        findings.push(`policy ${o.name} on ${table.qualifiedName} differs: ${diffs.join("; ")}`);
    }
  }
  return findings;
}

export function evaluateRlsPreserved(
  after: CatalogSnapshot,
  original: TableInfo,
  target: TableInfo,
): Outcome {
  const family = [target, ...descendants(after, target)];
  const findings = family.flatMap((t) => compareRls(original, t));
  const what = `RLS ${original.rls.enabled ? "enabled" : "disabled"}${original.rls.forced ? " (forced)" : ""} with ${plural(original.rls.policies.length, "policy", "policies")}`;
  if (findings.length === 0) {
    return pass(
      `${what} holds on ${target.qualifiedName} and its ${plural(family.length - 1, "partition")}.`,
    );
  }
  return fail(
    `${plural(findings.length, "row level security problem")}: ${original.qualifiedName} had ${what}.`,
    findings,
    `ALTER TABLE … ENABLE (and FORCE) ROW LEVEL SECURITY and CREATE POLICY with the original definitions on ${target.qualifiedName} and on every partition, including those created later.`,
  );
}

export const rlsPreserved: InvariantCheck<Inv> = {
  kind: "rls_preserved",
  evaluate(inv, { before, after }) {
    const original = findTable(before, inv.original);
    if (!original) return missingTable("original", inv.original, "before");
    const target = findTable(after, inv.target);
    if (!target) return missingTarget(inv.target, "row level security settings");
    return evaluateRlsPreserved(after, original, target);
  },
};
