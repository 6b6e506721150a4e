/**
 * triggers_preserved: each user trigger of the original (internal foreign-key triggers aside) exists on the
 * target with the same name, timing, events, level, function and enabled state. A cutover that "runs" but
 * forgot to move a trigger is still a failure (seeds/001). Triggers are matched by name: the trigger name is
 * what operators and ALTER TABLE … DISABLE TRIGGER use.
 *
 * It also catches a moved trigger that was not dropped from the relabelled original: when the old table is
 * attached as a partition, the parent's row trigger is cloned onto it, and a local copy left behind fires a
 * second time for every row routed there.
 */
import type { CatalogSnapshot, TableInfo, TriggerInfo } from "../catalog/types.ts";
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

type Inv = Extract<Invariant, { check: "triggers_preserved" }>;

const ENABLED: Record<TriggerInfo["enabled"], string> = {
  O: "enabled",
  D: "disabled",
  R: "enabled on replicas only",
  A: "enabled always",
};

export function describeTrigger(t: TriggerInfo): string {
  return `${t.timing} ${t.events.join(" OR ")} FOR EACH ${t.level.toUpperCase()} EXECUTE FUNCTION ${t.function}()`;
}

/** The user's own triggers on a table: not PostgreSQL's internal ones, not clones of a parent's trigger. */
export function userTriggers(t: TableInfo): TriggerInfo[] {
  return t.triggers.filter((tr) => !tr.internal && tr.parentTriggerOid === null);
}

function differences(o: TriggerInfo, t: TriggerInfo): string[] {
  const d: string[] = [];
  if (o.timing !== t.timing) d.push(`timing ${t.timing} instead of ${o.timing}`);
  if (o.events.join(",") !== t.events.join(","))
    d.push(`events ${t.events.join(" OR ")} instead of ${o.events.join(" OR ")}`);
  if (o.level !== t.level) d.push(`FOR EACH ${t.level.toUpperCase()} instead of ${o.level.toUpperCase()}`);
  if (o.function !== t.function) d.push(`function ${t.function}() instead of ${o.function}()`);
  if (o.enabled !== t.enabled) d.push(`${ENABLED[t.enabled]} instead of ${ENABLED[o.enabled]}`);
  return d;
}

export function evaluateTriggersPreserved(
  after: CatalogSnapshot,
  original: TableInfo,
  target: TableInfo,
): Outcome {
  const findings: string[] = [];
  const originals = userTriggers(original);
  const onTarget = userTriggers(target);
  for (const o of originals) {
    const t = onTarget.find((x) => x.name === o.name);
    if (!t) {
      const renamed = onTarget.find((x) => differences(o, x).length === 0);
      findings.push(
        renamed
          ? `trigger ${o.name} is missing on ${target.qualifiedName}; an identical trigger is named ${renamed.name}`
          : `trigger ${o.name} (${describeTrigger(o)}) is missing on ${target.qualifiedName}`,
      );
      continue;
    }
    const diffs = differences(o, t);
    if (diffs.length > 0)
      findings.push(`trigger ${o.name} on ${target.qualifiedName} differs: ${diffs.join("; ")}`);
  }

  // Row triggers of a partitioned parent are cloned to each partition; a local trigger with the same timing,
  // events and function on a partition runs in addition to the clone.
  if (target.relkind === "partitioned") {
    for (const t of onTarget.filter((x) => x.level === "row")) {
      for (const part of descendants(after, target)) {
        const dup = userTriggers(part).find(
          (x) => x.level === "row" && x.function === t.function && x.timing === t.timing && x.enabled !== "D",
        );
        if (dup?.events.some((e) => t.events.includes(e))) {
          findings.push(
            `partition ${part.qualifiedName} still has its own trigger ${dup.name} (${describeTrigger(dup)}) besides the clone of ${t.name}: it fires twice for rows routed there`,
          );
        }
      }
    }
  }

  if (findings.length === 0) {
    return pass(
      `${plural(originals.length, "trigger")} of ${original.qualifiedName}: each exists on ${target.qualifiedName} unchanged.`,
    );
  }
  return fail(
    `${plural(findings.length, "trigger problem")} moving the triggers of ${original.qualifiedName} to ${target.qualifiedName}.`,
    findings,
    `In the cutover transaction, CREATE TRIGGER each original trigger on ${target.qualifiedName} (same name, timing, events, function; re-apply DISABLE/ENABLE REPLICA/ALWAYS), and DROP it from the old table once that becomes a partition.`,
  );
}

export const triggersPreserved: InvariantCheck<Inv> = {
  kind: "triggers_preserved",
  evaluate(inv, { before, after }) {
    const original = findTable(before, inv.original);
    if (!original) return missingTable("original", inv.original, "before");
    const target = findTable(after, inv.target);
    if (!target) return missingTarget(inv.target, "triggers");
    return evaluateTriggersPreserved(after, original, target);
  },
};
