/** Row-level security policies: what the catalog says about them and how each becomes a PolicyInfo. */
import type { PolicyInfo } from "./types.ts";

export const POLICIES_SQL = `
SELECT pol.polrelid AS rel, pol.polname::text AS name, pol.polcmd::text AS cmd, pol.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END
             FROM unnest(pol.polroles) r ORDER BY 1) AS roles,
       pg_get_expr(pol.polqual, pol.polrelid, true) AS using_expr,
       pg_get_expr(pol.polwithcheck, pol.polrelid, true) AS check_expr
FROM pg_policy pol
WHERE pol.polrelid = ANY($1::oid[])
ORDER BY pol.polrelid, pol.polname`;

export interface PolicyRow {
  rel: number;
  name: string;
  cmd: string;
  permissive: boolean;
  roles: string[];
  using_expr: string | null;
  check_expr: string | null;
}

const POLICY_COMMANDS: Record<string, PolicyInfo["command"]> = {
  "*": "ALL",
  r: "SELECT",
  a: "INSERT",
  w: "UPDATE",
  d: "DELETE",
};

export function decodePolicy(p: PolicyRow): PolicyInfo {
  return {
    name: p.name,
    command: POLICY_COMMANDS[p.cmd] ?? "ALL",
    permissive: p.permissive,
    roles: p.roles,
    using: p.using_expr,
    check: p.check_expr,
  };
}
