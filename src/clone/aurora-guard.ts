/**
 * The Aurora provider's interlock: a write-capable RDS call is sent only when every cluster or instance it
 * names is the clone this run created, and never the source cluster — whatever else is true. A provider bug,
 * a clone identifier that collides with the source, or a future call that names the source in a field nobody
 * thought of must end in a refusal, not in a modified, rebooted or deleted production cluster.
 */

/** Fields of an RDS request that name a cluster, an instance or (as an ARN) any resource. */
const IDENTIFYING = /(Identifier|ResourceName|Arn)$/;

/** The one field a write may name the source in: the cluster a restore reads from. */
const READ_FROM = "SourceDBClusterIdentifier";

/** The identifier an ARN names ("arn:aws:rds:eu-west-1:1:cluster:prod" → "prod"), else the value itself. */
function named(value: string): string {
  const m = /^arn:[^:]*:rds:[^:]*:[^:]*:[a-z-]+:(.+)$/.exec(value);
  return (m ? m[1]! : value).toLowerCase();
}

/** The identifying values of a request: [field, value] for every string (or string list) field that names something. */
function identifiers(input: Record<string, unknown>): [string, string][] {
  const out: [string, string][] = [];
  for (const [field, value] of Object.entries(input)) {
    if (!IDENTIFYING.test(field)) continue;
    for (const v of Array.isArray(value) ? value : [value])
      out.push([field, typeof v === "string" ? v : String(v)]);
  }
  return out;
}

/**
 * Why a write-capable call must not be sent, or undefined when it may: every identifying field names a clone
 * in `owned`, none names `source` (the restore's SourceDBClusterIdentifier excepted, which is read), and it
 * names at least one thing (a write that names nothing cannot be shown to touch only the clone).
 */
export function writeRefusal(
  commandName: string,
  input: Record<string, unknown>,
  owned: ReadonlySet<string>,
  source: string,
): string | undefined {
  const src = source.toLowerCase();
  const ownedLower = new Set([...owned].map((o) => o.toLowerCase()));
  const ids = identifiers(input);
  const restoreSource = commandName.startsWith("RestoreDBCluster") ? READ_FROM : undefined;
  const targets = ids.filter(([field]) => field !== restoreSource);
  if (targets.length === 0) return `refusing ${commandName}: it names no clone identifier`;
  for (const [field, value] of targets) {
    if (named(value) === src)
      return `refusing ${commandName} with ${field} ${value}: that is the source cluster, which rehearse only ever reads`;
    if (!ownedLower.has(named(value)))
      return `refusing ${commandName} with ${field} ${value}: rehearse only writes to the clone it created`;
  }
  if (restoreSource) {
    const target = input.DBClusterIdentifier;
    if (typeof target === "string" && named(target) === named(String(input[READ_FROM] ?? "")))
      return `refusing ${commandName}: the clone ${target} would be its own source`;
  }
  return undefined;
}
