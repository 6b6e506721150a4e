/**
 * An Aurora PostgreSQL copy-on-write clone of a source cluster: RestoreDBClusterToPointInTime (RestoreType
 * copy-on-write, latest restorable time), one instance, the master password reset for the clone (never
 * printed), tags that let `rehearse gc` find it once expired, and teardown on every exit path.
 *
 * Safety: the source cluster is only ever read (DescribeDBClusters, and as SourceDBClusterIdentifier of the
 * restore). Every write-capable call goes through `#write`, which refuses any identifier that is not the clone
 * this provider created, and the source above all.
 */
import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import type { DBCluster, RDSClient, Tag } from "@aws-sdk/client-rds";
import pg from "pg";
import type { AuroraTarget } from "../scenario/schema.ts";
import { registerCleanup } from "../util/cleanup.ts";
import { registerSecret } from "../util/redact.ts";
import { writeRefusal } from "./aurora-guard.ts";
import { writeProvenance } from "./provenance.ts";
import { type Clone, type CloneOptions, type CloneProvider, CloneRefusedError } from "./provider.ts";

export const TAG_RUN_ID = "rehearse:run-id";
export const TAG_EXPIRES_AT = "rehearse:expires-at";
export const TAG_OWNER = "rehearse:owner";

/** How long to wait, and how often to poll, for the clone to become available or go away. Seconds. */
export interface WaitSettings {
  maxWaitTime: number;
  minDelay: number;
  maxDelay: number;
}

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

const DEFAULT_WAIT: WaitSettings = { maxWaitTime: 3600, minDelay: 15, maxDelay: 60 };
const THROTTLING = new Set([
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "RequestThrottled",
  "RequestThrottledException",
]);
const MAX_ATTEMPTS = 6;

/** Any RDS command: what `#write` needs to see of it. */
type RdsCommand = { readonly input: object };

/** A call that failed for good, with what the API said. */
export class AuroraError extends Error {
  override name = "AuroraError";
}

function errorName(err: unknown): string {
  return (err as { name?: string })?.name ?? "";
}

/** Calls RDS, retrying throttled calls with exponential backoff; refuses writes to anything but `owned`. */
class Rds {
  readonly owned = new Set<string>();
  constructor(
    readonly client: RDSClient,
    private readonly source: string,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {}

  async read<T>(command: RdsCommand): Promise<T> {
    return this.#send<T>(command);
  }

  /** A write-capable call: every identifier it names must be the clone's, never the source's. */
  async write<T>(command: RdsCommand): Promise<T> {
    const refusal = writeRefusal(
      command.constructor.name.replace(/Command$/, ""),
      command.input as Record<string, unknown>,
      this.owned,
      this.source,
    );
    if (refusal) throw new AuroraError(refusal);
    return this.#send<T>(command);
  }

  async #send<T>(command: RdsCommand): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.client.send(command as never)) as T;
      } catch (err) {
        if (!THROTTLING.has(errorName(err)) || attempt >= MAX_ATTEMPTS) throw err;
        await this.sleep(Math.min(20_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2));
      }
    }
  }
}

/** Settings problems, all at once, each with its fix; empty when the clone can be made. */
export function auroraProblems(s: Partial<AuroraTarget>): string[] {
  const problems: string[] = [];
  if (!s.source_cluster)
    problems.push(
      "no source cluster: set target.aurora.source_cluster or --aurora-source-cluster (its DBClusterIdentifier)",
    );
  if (!s.subnet_group)
    problems.push(
      "no DB subnet group for the clone: set target.aurora.subnet_group or --aurora-subnet-group",
    );
  return problems;
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
    const problems = auroraProblems(s);
    if (problems.length > 0)
      throw new CloneRefusedError(
        `the aurora provider cannot make a clone:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
        "complete target.aurora in scenario.yaml (or pass the --aurora-… flags)",
      );
    const source = s.source_cluster!;
    const log = options.log ?? (() => {});
    const now = this.#o.now ?? (() => new Date());
    const wait = { ...DEFAULT_WAIT, ...this.#o.wait };
    // Loaded here, not at import: the SDK is large, and only an aurora run needs it.
    const sdk = await import("@aws-sdk/client-rds");
    const client = this.#o.client ?? new sdk.RDSClient(s.region ? { region: s.region } : {});
    const rds = new Rds(client, source, this.#o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))));
    const clusterId = (this.#o.identifier ?? cloneIdentifier)(options.runId);
    const instanceId = `${clusterId}-1`;
    // Before any call: a clone named like its source would make every later write a write to production.
    if (clusterId.toLowerCase() === source.toLowerCase() || instanceId.toLowerCase() === source.toLowerCase())
      throw new CloneRefusedError(
        `the clone would be named ${clusterId}, like its source cluster ${source}`,
        "name a different source cluster, or let rehearse choose the clone's identifier",
      );

    let sourceCluster: DBCluster | undefined;
    try {
      const r = await rds.read<{ DBClusters?: DBCluster[] }>(
        new sdk.DescribeDBClustersCommand({ DBClusterIdentifier: source }),
      );
      sourceCluster = r.DBClusters?.[0];
    } catch (err) {
      const name = errorName(err);
      if (name === "CredentialsProviderError" || /credential/i.test((err as Error).message))
        throw new CloneRefusedError(
          `no AWS credentials: ${(err as Error).message}`,
          "configure the AWS default credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, an instance role)",
        );
      if (name === "DBClusterNotFoundFault")
        throw new CloneRefusedError(
          `the source cluster ${source} does not exist in this account and region`,
          "check target.aurora.source_cluster and target.aurora.region (or AWS_REGION)",
        );
      throw err;
    }
    if (!sourceCluster?.Engine?.startsWith("aurora-postgresql"))
      throw new CloneRefusedError(
        `the source cluster ${source} is not Aurora PostgreSQL (engine ${sourceCluster?.Engine ?? "unknown"})`,
        "name an Aurora PostgreSQL cluster",
      );

    const expires = new Date(now().getTime() + (s.ttl ?? 6 * 3_600_000));
    const tags: Tag[] = [
      { Key: TAG_RUN_ID, Value: options.runId ?? clusterId },
      { Key: TAG_EXPIRES_AT, Value: expires.toISOString() },
      { Key: TAG_OWNER, Value: this.#o.owner ?? safeUser() },
    ];
    const created = { cluster: false, instance: false };
    // Registered before the first write: a Ctrl-C during provisioning still deletes what exists by then.
    const teardown = async () => {
      const left: string[] = [];
      if (created.instance) {
        try {
          await rds.write(
            new sdk.DeleteDBInstanceCommand({ DBInstanceIdentifier: instanceId, SkipFinalSnapshot: true }),
          );
          await sdk.waitUntilDBInstanceDeleted({ client, ...wait }, { DBInstanceIdentifier: instanceId });
        } catch (err) {
          if (errorName(err) !== "DBInstanceNotFoundFault")
            left.push(`instance ${instanceId} (${(err as Error).message.slice(0, 300)})`);
        }
      }
      if (created.cluster) {
        try {
          await rds.write(
            new sdk.DeleteDBClusterCommand({ DBClusterIdentifier: clusterId, SkipFinalSnapshot: true }),
          );
        } catch (err) {
          if (errorName(err) !== "DBClusterNotFoundFault")
            left.push(`cluster ${clusterId} (${(err as Error).message.slice(0, 300)})`);
        }
      }
      unregister();
      if (left.length > 0)
        throw new AuroraError(
          `could not delete the Aurora clone: ${left.join("; ")}. Delete it with ` +
            `\`aws rds delete-db-instance --db-instance-identifier ${instanceId} --skip-final-snapshot\` then ` +
            `\`aws rds delete-db-cluster --db-cluster-identifier ${clusterId} --skip-final-snapshot\`, or run \`rehearse gc\` after ${expires.toISOString()}`,
        );
      log(`aurora: deleted the clone ${clusterId}`);
    };
    const unregister = registerCleanup(`delete the Aurora clone ${clusterId}`, () => teardown());
    const password = randomBytes(24).toString("base64url");
    registerSecret(password);
    try {
      rds.owned.add(clusterId);
      const pit = s.restore_time
        ? // The API does not restore a copy-on-write clone to a given time: that is a full copy.
          { RestoreType: "full-copy", RestoreToTime: new Date(s.restore_time) }
        : { RestoreType: "copy-on-write", UseLatestRestorableTime: true };
      log(`aurora: cloning ${source} as ${clusterId} (${pit.RestoreType})`);
      created.cluster = true;
      await rds.write(
        new sdk.RestoreDBClusterToPointInTimeCommand({
          DBClusterIdentifier: clusterId,
          SourceDBClusterIdentifier: source,
          ...pit,
          DBSubnetGroupName: s.subnet_group,
          VpcSecurityGroupIds: s.security_groups?.length ? s.security_groups : undefined,
          DBClusterParameterGroupName: s.parameter_group,
          DeletionProtection: false,
          CopyTagsToSnapshot: false,
          Tags: tags,
        }),
      );
      await this.#waitFor("cluster", clusterId, () =>
        sdk.waitUntilDBClusterAvailable({ client, ...wait }, { DBClusterIdentifier: clusterId }),
      );
      rds.owned.add(instanceId);
      created.instance = true;
      log(`aurora: creating instance ${instanceId} (${s.instance_class ?? "db.r6g.large"})`);
      await rds.write(
        new sdk.CreateDBInstanceCommand({
          DBInstanceIdentifier: instanceId,
          DBClusterIdentifier: clusterId,
          Engine: sourceCluster.Engine,
          DBInstanceClass: s.instance_class ?? "db.r6g.large",
          DBParameterGroupName: s.instance_parameter_group,
          PubliclyAccessible: false,
          Tags: tags,
        }),
      );
      await this.#waitFor("instance", instanceId, () =>
        sdk.waitUntilDBInstanceAvailable({ client, ...wait }, { DBInstanceIdentifier: instanceId }),
      );
      // The clone has the source's master password, which we do not know and must not need: a new one.
      await rds.write(
        new sdk.ModifyDBClusterCommand({
          DBClusterIdentifier: clusterId,
          MasterUserPassword: password,
          ApplyImmediately: true,
        }),
      );
      const ready = await this.#waitFor("cluster", clusterId, () =>
        sdk.waitUntilDBClusterAvailable({ client, ...wait }, { DBClusterIdentifier: clusterId }),
      );
      const cluster = (ready.reason as { DBClusters?: DBCluster[] } | undefined)?.DBClusters?.[0];
      const described =
        cluster?.Endpoint !== undefined
          ? cluster
          : (
              await rds.read<{ DBClusters?: DBCluster[] }>(
                new sdk.DescribeDBClustersCommand({ DBClusterIdentifier: clusterId }),
              )
            ).DBClusters?.[0];
      if (!described?.Endpoint) throw new AuroraError(`the clone ${clusterId} has no endpoint`);
      const config: pg.ClientConfig = {
        host: described.Endpoint,
        port: described.Port ?? 5432,
        user: described.MasterUsername ?? sourceCluster.MasterUsername,
        password,
        database: s.database ?? "postgres",
        ssl: s.ssl === false ? undefined : { rejectUnauthorized: false },
      };
      const db = new pg.Client(config);
      db.on("error", () => {});
      await db.connect();
      try {
        await writeProvenance(db, {
          provider: "aurora",
          source: sourceCluster.DBClusterArn ?? source,
          run_id: options.runId,
        });
      } finally {
        await db.end();
      }
      return new AuroraClone(config, teardown);
    } catch (err) {
      await teardown().catch((e: Error) => log(e.message));
      throw err;
    }
  }

  async #waitFor<T>(what: string, id: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (errorName(err) === "TimeoutError")
        throw new AuroraError(
          `the Aurora ${what} ${id} did not become available within ${this.#o.wait?.maxWaitTime ?? DEFAULT_WAIT.maxWaitTime} s; it is being deleted`,
        );
      throw new AuroraError(
        `the Aurora ${what} ${id} failed to become available: ${(err as Error).message.slice(0, 500)}`,
      );
    }
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
