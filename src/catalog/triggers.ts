/** Triggers: what the catalog says about them and how each becomes a TriggerInfo. */
import type { TriggerEvent, TriggerInfo } from "./types.ts";

export const TRIGGERS_SQL = `
SELECT t.tgrelid AS rel, t.oid, t.tgname::text AS name, t.tgtype::int AS tgtype, t.tgenabled::text AS enabled,
       t.tgisinternal AS internal, nullif(t.tgparentid, 0) AS parent_oid,
       pn.nspname::text || '.' || p.proname::text AS function, pg_get_triggerdef(t.oid, true) AS definition
FROM pg_trigger t
JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
WHERE t.tgrelid = ANY($1::oid[])
ORDER BY t.tgrelid, t.tgname`;

export interface TriggerRow {
  rel: number;
  oid: number;
  name: string;
  tgtype: number;
  enabled: string;
  internal: boolean;
  parent_oid: number | null;
  function: string;
  definition: string;
}

/** Decodes pg_trigger.tgtype (the TRIGGER_TYPE_* bits of PostgreSQL's trigger.h). */
export function decodeTriggerType(tgtype: number): Pick<TriggerInfo, "timing" | "events" | "level"> {
  const timing = tgtype & 64 ? "INSTEAD OF" : tgtype & 2 ? "BEFORE" : "AFTER";
  const events: TriggerEvent[] = [];
  if (tgtype & 4) events.push("INSERT");
  if (tgtype & 16) events.push("UPDATE");
  if (tgtype & 8) events.push("DELETE");
  if (tgtype & 32) events.push("TRUNCATE");
  return { timing, events, level: tgtype & 1 ? "row" : "statement" };
}

export function decodeTrigger(t: TriggerRow): TriggerInfo {
  return {
    name: t.name,
    oid: t.oid,
    ...decodeTriggerType(t.tgtype),
    function: t.function,
    enabled: (["O", "D", "R", "A"].includes(t.enabled) ? t.enabled : "O") as TriggerInfo["enabled"],
    internal: t.internal,
    parentTriggerOid: t.parent_oid,
    definition: t.definition,
  };
}
