/**
 * Renders schema.sql (pg_dump-like DDL) from the source's catalog snapshot: roles, the user types, functions
 * and extensions the tables need (closure.ts), sequences, tables with columns, defaults and constraints,
 * partitions, indexes, triggers, grants, RLS and policies, foreign keys in both directions, and the views that
 * read the tables. Pure: the snapshot in, SQL text out.
 */
import { dependentsOf } from "../catalog/dependents.ts";
import type { CatalogSnapshot, DependentInfo, TableInfo } from "../catalog/types.ts";
import { ident, qualified } from "../db/sql.ts";
import type { SourceRead } from "./source.ts";

/**
 * A table that was not asked for but must exist: one an included table's FK points at (its key columns), or
 * one a view over an included table reads (the columns the view reads). Created empty but for FK keys.
 */
export interface StubTable {
  name: string;
  columns: { name: string; type: string }[];
  /** The key columns an FK points at (its PRIMARY KEY); empty for a table only views read. */
  key: string[];
}

export interface RenderedSchema {
  sql: string;
  stubs: StubTable[];
}

function q(name: string): string {
  return qualified(name);
}

function roleName(role: string): string {
  return role === "PUBLIC" || role === "public" ? "PUBLIC" : ident(role);
}

/** DDL for the tables (by snapshot key), in the order given. */
export function renderSchema(read: SourceRead, keys: string[], header: string): RenderedSchema {
  const snap = read.snapshot;
  const included = new Set(keys);
  const out: string[] = [header, ""];
  const roles = new Set<string>();
  const tables = keys.map((k) => snap.tables[k]!);
  for (const t of tables) {
    for (const g of t.grants) if (g.grantee !== "PUBLIC" && g.grantee !== t.owner) roles.add(g.grantee);
    for (const p of t.rls.policies) for (const r of p.roles) if (r !== "public") roles.add(r);
  }
  if (roles.size) {
    out.push("-- Roles named by grants and policies (created if missing, without login).");
    for (const r of [...roles].sort())
      out.push(
        `DO $$ BEGIN CREATE ROLE ${ident(r)} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;`,
      );
    out.push("");
  }
  const closure = read.closure;
  for (const schema of new Set([...tables.map((t) => t.schema), ...closure.schemas]))
    if (schema !== "public" && schema !== "pg_catalog")
      out.push(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)};`);
  // As pg_dump does: a function body is checked when it runs, not when it is created, so the order of
  // functions that call each other does not matter.
  out.push("SET check_function_bodies = false;", "");
  for (const u of closure.unreproduced) out.push(`-- NOT REPRODUCED (create it on the clone first): ${u}`);
  const before = closure.objects.filter((o) => !o.afterTables);
  if (before.length) out.push("-- Types, functions and extensions the tables and their views need.");
  for (const o of before) out.push(o.sql);
  if (before.length || closure.unreproduced.length) out.push("");

  const stubs = stubTables(snap, tables, included);
  const views = dependentViews(read, keys, stubs);
  for (const s of stubs) {
    const cols = s.columns.map(
      (c) => `  ${ident(c.name)} ${c.type}${s.key.includes(c.name) ? " NOT NULL" : ""}`,
    );
    if (s.key.length) cols.push(`  PRIMARY KEY (${s.key.map(ident).join(", ")})`);
    out.push(
      s.key.length
        ? `-- ${s.name} is referenced by a foreign key but was not given with --table: its key columns (and the columns views read).`
        : `-- ${s.name} is read by a view over ${[...included].join(", ")} but was not given with --table: the columns the view reads.`,
      `CREATE TABLE ${q(s.name)} (\n${cols.join(",\n")}\n);`,
      "",
    );
  }

  for (const t of tables) out.push(...renderTable(read, t));
  const after = closure.objects.filter((o) => o.afterTables);
  if (after.length) out.push("-- Functions over the tables' row types.", ...after.map((o) => o.sql), "");

  const fks = snap.foreignKeys.filter(
    (fk) => fk.parentOid === null && (included.has(fk.from) || included.has(fk.to)),
  );
  if (fks.length) out.push("-- Foreign keys, both directions.");
  for (const fk of fks) {
    const line = `ALTER TABLE ${q(fk.from)} ADD CONSTRAINT ${ident(fk.name)} ${fk.definition};`;
    if (included.has(fk.from)) out.push(line);
    else out.push(`-- ${fk.from} (not given with --table) references ${fk.to}:`, `-- ${line}`);
  }
  if (views.rendered.length || views.skipped.length)
    out.push("", "-- Views and materialized views reading the tables: a migration must carry them over.");
  for (const v of views.skipped)
    out.push(`-- ${v.kind} ${v.name} reads ${v.references.join(", ")}, not all of them tables: left out.`);
  const viewIndexes = new Map(
    read.tables.flatMap((t) => t.views ?? []).map((v) => [v.name, v.indexes] as const),
  );
  for (const v of views.rendered) {
    const body = (v.definition ?? "").trim().replace(/;$/, "");
    out.push(
      v.kind === "view"
        ? `CREATE VIEW ${q(v.name)} AS\n${body};`
        : `CREATE MATERIALIZED VIEW ${q(v.name)} AS\n${body}\nWITH NO DATA;`,
    );
    for (const i of viewIndexes.get(v.name) ?? []) out.push(`${i};`);
  }
  return { sql: `${out.join("\n").trimEnd()}\n`, stubs };
}

/**
 * The views and materialized views that read the included tables, and the stub tables (or stub columns) they
 * need: the rehearsal's clone must hold them for a check to see whether the migration carries them over
 * (issue 15). A view reading another view or a relation the snapshot does not describe is left out.
 */
function dependentViews(
  read: SourceRead,
  keys: string[],
  stubs: StubTable[],
): { rendered: DependentInfo[]; skipped: DependentInfo[] } {
  const snap = read.snapshot;
  const all = snap.dependents ?? [];
  const seen = new Set<string>();
  const candidates = keys
    .flatMap((k) => dependentsOf(all, k))
    .filter(
      (d) => (d.kind === "view" || d.kind === "materialized view") && !seen.has(d.name) && seen.add(d.name),
    );
  const isTable = (n: string) => snap.tables[n] !== undefined && snap.tables[n].relkind !== "view";
  const rendered = candidates.filter((d) => d.references.every(isTable));
  const skipped = candidates.filter((d) => !rendered.includes(d));
  for (const v of rendered)
    for (const [rel, cols] of Object.entries(v.readsColumns ?? {})) {
      if (keys.includes(rel)) continue;
      let stub = stubs.find((s) => s.name === rel);
      if (!stub) {
        stub = { name: rel, columns: [], key: [] };
        stubs.push(stub);
      }
      for (const c of cols) {
        if (stub.columns.some((x) => x.name === c)) continue;
        const type = snap.tables[rel]!.columns.find((x) => x.name === c)?.type ?? "text";
        stub.columns.push({ name: c, type });
      }
    }
  return { rendered, skipped };
}

function stubTables(snap: CatalogSnapshot, tables: TableInfo[], included: Set<string>): StubTable[] {
  const stubs = new Map<string, StubTable>();
  for (const t of tables)
    for (const fk of t.foreignKeys.outgoing) {
      if (fk.parentOid !== null || included.has(fk.to) || stubs.has(fk.to)) continue;
      const target = snap.tables[fk.to];
      stubs.set(fk.to, {
        name: fk.to,
        columns: fk.toColumns.map((c) => ({
          name: c,
          type: target?.columns.find((x) => x.name === c)?.type ?? "bigint",
        })),
        key: [...fk.toColumns],
      });
    }
  return [...stubs.values()];
}

function renderTable(read: SourceRead, t: TableInfo): string[] {
  const snap = read.snapshot;
  const out: string[] = [];
  const name = q(t.qualifiedName);
  // Sequences behind the columns' defaults, created first so the defaults resolve.
  const owned: string[] = [];
  for (const c of t.columns) {
    if (!c.sequence || c.identity) continue;
    const s = snap.sequences[c.sequence];
    if (!s) continue;
    out.push(
      `CREATE SEQUENCE ${q(s.qualifiedName)} AS ${s.dataType} INCREMENT BY ${s.increment} MINVALUE ${s.min} ` +
        `MAXVALUE ${s.max} START WITH ${s.start} CACHE ${s.cache}${s.cycle ? " CYCLE" : ""};`,
    );
    if (s.ownedBy)
      owned.push(`ALTER SEQUENCE ${q(s.qualifiedName)} OWNED BY ${name}.${ident(s.ownedBy.column)};`);
  }
  const lines = t.columns.map((c) => {
    let l = `  ${ident(c.name)} ${c.type}`;
    if (c.identity) l += ` GENERATED ${c.identity === "always" ? "ALWAYS" : "BY DEFAULT"} AS IDENTITY`;
    else if (c.generated && c.default) l += ` GENERATED ALWAYS AS (${c.default}) STORED`;
    else if (c.default) l += ` DEFAULT ${c.default}`;
    if (c.notNull) l += " NOT NULL";
    return l;
  });
  for (const c of t.constraints)
    if (c.local && c.parentOid === null && ["p", "u", "c", "x"].includes(c.type))
      lines.push(`  CONSTRAINT ${ident(c.name)} ${c.definition}`);
  const partitionBy = t.partitioning ? ` PARTITION BY ${t.partitioning.definition}` : "";
  out.push(`CREATE TABLE ${name} (\n${lines.join(",\n")}\n)${partitionBy};`, ...owned);
  for (const p of t.partitioning?.partitions ?? [])
    out.push(`CREATE TABLE ${q(p.name)} PARTITION OF ${name} ${p.bound};`);

  const constraintIndexes = new Set(t.constraints.map((c) => c.index).filter((i) => i !== null));
  for (const i of t.indexes)
    if (!constraintIndexes.has(i.name) && i.parentIndexOid === null) out.push(`${i.definition};`);

  for (const tr of t.triggers) {
    if (tr.internal || tr.parentTriggerOid !== null) continue;
    out.push(`${tr.definition};`);
    if (tr.enabled === "D") out.push(`ALTER TABLE ${name} DISABLE TRIGGER ${ident(tr.name)};`);
    if (tr.enabled === "R") out.push(`ALTER TABLE ${name} ENABLE REPLICA TRIGGER ${ident(tr.name)};`);
    if (tr.enabled === "A") out.push(`ALTER TABLE ${name} ENABLE ALWAYS TRIGGER ${ident(tr.name)};`);
  }
  out.push(...renderGrants(t, name));
  out.push(...renderRls(t, name));
  out.push("");
  return out;
}

/** GRANTs of the table to every role but its owner. */
export function renderGrants(t: TableInfo, name: string): string[] {
  return t.grants
    .filter((g) => g.grantee !== t.owner && g.privileges.length > 0)
    .map((g) => `GRANT ${g.privileges.join(", ")} ON ${name} TO ${roleName(g.grantee)};`);
}

/** ENABLE/FORCE ROW LEVEL SECURITY and CREATE POLICY statements for a table. */
export function renderRls(t: TableInfo, name: string): string[] {
  const out: string[] = [];
  if (t.rls.enabled) out.push(`ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY;`);
  if (t.rls.forced) out.push(`ALTER TABLE ${name} FORCE ROW LEVEL SECURITY;`);
  for (const p of t.rls.policies) {
    let l = `CREATE POLICY ${ident(p.name)} ON ${name} AS ${p.permissive ? "PERMISSIVE" : "RESTRICTIVE"} FOR ${p.command}`;
    l += ` TO ${p.roles.map(roleName).join(", ")}`;
    if (p.using !== null) l += ` USING (${p.using})`;
    if (p.check !== null) l += ` WITH CHECK (${p.check})`;
    out.push(`${l};`);
  }
  return out;
}
