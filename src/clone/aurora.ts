/**
 * An Aurora PostgreSQL copy-on-write clone of a source cluster: RestoreDBClusterToPointInTime (RestoreType
 * copy-on-write, latest restorable time), one instance, the master password reset for the clone (never
 * printed), tags that let `rehearse gc` find it once expired, and teardown on every exit path.
 *
 * Safety: the source cluster is only ever read (DescribeDBClusters, and as SourceDBClusterIdentifier of the
 * restore). Every write-capable call goes through `Rds.write` (aurora/rds.ts), which refuses any identifier
 * that is not the clone this provider created, and the source above all. The parts, under aurora/: preflight
 * (refusals before the first write), provision (restore, instance, password), teardown, rds (the guarded API).
 */
import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import type { RDSClient, Tag } from "@aws-sdk/client-rds";
import pg from "pg";
import type { AuroraTarget } from "../scenario/schema.ts";
import { registerSecret } from "../util/redact.ts";
import { describeSource, refuseCloneNamedLikeSource, refuseIncompleteSettings } from "./aurora/preflight.ts";
import { provisionClone } from "./aurora/provision.ts";
import { type CloneTarget, type Created, DEFAULT_WAIT, Rds, type WaitSettings } from "./aurora/rds.ts";
import { registerTeardown } from "./aurora/teardown.ts";
import { writeProvenance } from "./provenance.ts";
import type { Clone, CloneOptions, CloneProvider } from "./provider.ts";

export { auroraProblems } from "./aurora/preflight.ts";
export { AuroraError, type WaitSettings } from "./aurora/rds.ts";

export const TAG_RUN_ID = "rehearse:run-id";
export const TAG_EXPIRES_AT = "rehearse:expires-at";
export const TAG_OWNER = "rehearse:owner";

export interface AuroraProviderOptions {
  settings: Partial<AuroraTarget>;
  /** Tests pass a client whose `send` is mocked; else one from the default credential chain. */
  client?: RDSClient;
  wait?: Partial<WaitSettings>;
  /** Backoff between throttled calls (tests make it instant). */
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
  owner?: string;
  /** The clone's DBClusterIdentifier for a run id (tests pin it); default `rehearse-<run id>-<random>`. */
  identifier?: (runId: string | undefined) => string;
}

class AuroraClone implements Clone {
  readonly provider = "aurora";
  readonly method = "provisioned" as const;
  readonly hasData = true;
  #stopped: Promise<void> | undefined;
  constructor(
    private readonly config: pg.ClientConfig,
    private readonly teardown: () => Promise<void>,
  ) {}
  connectionConfig(): pg.ClientConfig {
    return { ...this.config };
  }
  displayUrl(): string {
    const c = this.config;
    return `postgres://${encodeURIComponent(String(c.user))}:***@${c.host}:${c.port}/${c.database}`;
  }
  stop(): Promise<void> {
    this.#stopped ??= this.teardown();
    return this.#stopped;
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** A lower-case RDS identifier (letters, digits, single hyphens, ≤ 63, starting with a letter). */
function cloneIdentifier(runId: string | undefined): string {
  const base = `rehearse-${(runId ?? "").toLowerCase().replace(/[^a-z0-9]+/g, "-")}`.replace(/-+$/, "");
  const id = `${base.slice(0, 50).replace(/-+$/, "")}-${randomBytes(3).toString("hex")}`;
  return id.replace(/--+/g, "-");
}

export class AuroraProvider implements CloneProvider {
  readonly name = "aurora";
  readonly #o: AuroraProviderOptions;

  constructor(options: AuroraProviderOptions) {
    this.#o = options;
  }

  async start(options: CloneOptions = {}): Promise<Clone> {
    const s = this.#o.settings;
    const source = refuseIncompleteSettings(s);
    const log = options.log ?? (() => {});
    const now = this.#o.now ?? (() => new Date());
    const wait = { ...DEFAULT_WAIT, ...this.#o.wait };
    // Loaded here, not at import: the SDK is large, and only an aurora run needs it.
    const sdk = await import("@aws-sdk/client-rds");
    const client = this.#o.client ?? new sdk.RDSClient(s.region ? { region: s.region } : {});
    const rds = new Rds(client, source, this.#o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))));
    const clusterId = (this.#o.identifier ?? cloneIdentifier)(options.runId);
    const target: CloneTarget = { rds, sdk, wait, clusterId, instanceId: `${clusterId}-1` };
    refuseCloneNamedLikeSource(clusterId, target.instanceId, source);
    const sourceCluster = await describeSource(rds, sdk, source);

    const expires = new Date(now().getTime() + (s.ttl ?? 6 * 3_600_000));
    const tags = cloneTags(options.runId ?? clusterId, expires, this.#o.owner ?? safeUser());
    const created: Created = { cluster: false, instance: false };
    // Registered before the first write: a Ctrl-C during provisioning still deletes what exists by then.
    const teardown = registerTeardown(target, created, expires, log);
    const password = randomBytes(24).toString("base64url");
    registerSecret(password);
    try {
      const maxWaitTime = this.#o.wait?.maxWaitTime ?? DEFAULT_WAIT.maxWaitTime;
      const spec = { settings: s, source, sourceCluster, tags, password, maxWaitTime, log };
      const config = await provisionClone(target, created, spec);
      await markClone(config, sourceCluster.DBClusterArn ?? source, options.runId);
      return new AuroraClone(config, teardown);
    } catch (err) {
      await teardown().catch((e: Error) => log(e.message));
      throw err;
    }
  }
}

/** What `rehearse gc` finds a clone left behind by: whose run it was, when it may go, who made it. */
function cloneTags(runId: string, expires: Date, owner: string): Tag[] {
  return [
    { Key: TAG_RUN_ID, Value: runId },
    { Key: TAG_EXPIRES_AT, Value: expires.toISOString() },
    { Key: TAG_OWNER, Value: owner },
  ];
}

/** Writes the clone marker into the clone, so the url provider can tell it from production later. */
async function markClone(config: pg.ClientConfig, source: string, runId: string | undefined): Promise<void> {
  const db = new pg.Client(config);
  db.on("error", () => {});
  await db.connect();
  try {
    await writeProvenance(db, { provider: "aurora", source, run_id: runId });
  } finally {
    await db.end();
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

export interface GcResult {
  deleted: string[];
  failed: { cluster: string; error: string }[];
  kept: number;
}

/** Deletes Aurora clusters tagged by rehearse whose rehearse:expires-at has passed (instances first). */
export async function gcAurora(
  client: RDSClient,
  options: { dryRun?: boolean; now?: Date; log?: (l: string) => void; wait?: Partial<WaitSettings> } = {},
): Promise<GcResult> {
  const sdk = await import("@aws-sdk/client-rds");
  const now = options.now ?? new Date();
  const wait = { ...DEFAULT_WAIT, ...options.wait };
  const result: GcResult = { deleted: [], failed: [], kept: 0 };
  let marker: string | undefined;
  do {
    const page = await client.send(new sdk.DescribeDBClustersCommand({ Marker: marker }));
    marker = page.Marker;
    for (const c of page.DBClusters ?? []) {
      const tag = (k: string) => c.TagList?.find((t) => t.Key === k)?.Value;
      const expires = tag(TAG_EXPIRES_AT);
      if (!tag(TAG_RUN_ID) || !expires || !c.DBClusterIdentifier) continue;
      if (new Date(expires).getTime() > now.getTime()) {
        result.kept++;
        continue;
      }
      const id = c.DBClusterIdentifier;
      options.log?.(`${options.dryRun ? "would delete" : "deleting"} ${id} (expired ${expires})`);
      if (options.dryRun) {
        result.deleted.push(id);
        continue;
      }
      try {
        for (const m of c.DBClusterMembers ?? []) {
          if (!m.DBInstanceIdentifier) continue;
          await client.send(
            new sdk.DeleteDBInstanceCommand({
              DBInstanceIdentifier: m.DBInstanceIdentifier,
              SkipFinalSnapshot: true,
            }),
          );
          await sdk.waitUntilDBInstanceDeleted(
            { client, ...wait },
            { DBInstanceIdentifier: m.DBInstanceIdentifier },
          );
        }
        await client.send(
          new sdk.DeleteDBClusterCommand({ DBClusterIdentifier: id, SkipFinalSnapshot: true }),
        );
        result.deleted.push(id);
      } catch (err) {
        result.failed.push({ cluster: id, error: (err as Error).message });
      }
    }
  } while (marker);
  return result;
}
