/**
 * Making the Aurora clone, in the order RDS allows: restore the cluster from the source (copy-on-write, or a
 * full copy for a past restore time), wait for it, add one instance, wait, reset the master password, wait,
 * then read its endpoint. Each step marks in `created` what now exists, before it is requested, so a failure
 * at any point leaves the teardown knowing what to delete.
 */
import type { DBCluster, Tag } from "@aws-sdk/client-rds";
import type pg from "pg";
import type { AuroraTarget } from "../../scenario/schema.ts";
import { AuroraError, type CloneTarget, type Created, errorName } from "./rds.ts";

const DEFAULT_INSTANCE_CLASS = "db.r6g.large";

export interface CloneSpec {
  settings: Partial<AuroraTarget>;
  source: string;
  sourceCluster: DBCluster;
  tags: Tag[];
  /** The clone's new master password (already registered as a secret). */
  password: string;
  /** For the timeout message: how long each wait lasted, in seconds. */
  maxWaitTime: number;
  log: (line: string) => void;
}

/** Creates the clone cluster and its instance and waits until it answers; returns how to connect to it. */
export async function provisionClone(
  t: CloneTarget,
  created: Created,
  spec: CloneSpec,
): Promise<pg.ClientConfig> {
  await restoreCluster(t, created, spec);
  await createInstance(t, created, spec);
  // The clone has the source's master password, which we do not know and must not need: a new one.
  await t.rds.write(
    new t.sdk.ModifyDBClusterCommand({
      DBClusterIdentifier: t.clusterId,
      MasterUserPassword: spec.password,
      ApplyImmediately: true,
    }),
  );
  const described = await availableCluster(t, spec.maxWaitTime);
  const s = spec.settings;
  return {
    host: described.Endpoint,
    port: described.Port ?? 5432,
    user: described.MasterUsername ?? spec.sourceCluster.MasterUsername,
    password: spec.password,
    database: s.database ?? "postgres",
    ssl: s.ssl === false ? undefined : { rejectUnauthorized: false },
  };
}

async function restoreCluster({ rds, sdk, wait, clusterId }: CloneTarget, created: Created, spec: CloneSpec) {
  const s = spec.settings;
  rds.owned.add(clusterId);
  const pit = s.restore_time
    ? // The API does not restore a copy-on-write clone to a given time: that is a full copy.
      { RestoreType: "full-copy", RestoreToTime: new Date(s.restore_time) }
    : { RestoreType: "copy-on-write", UseLatestRestorableTime: true };
  spec.log(`aurora: cloning ${spec.source} as ${clusterId} (${pit.RestoreType})`);
  created.cluster = true;
  await rds.write(
    new sdk.RestoreDBClusterToPointInTimeCommand({
      DBClusterIdentifier: clusterId,
      SourceDBClusterIdentifier: spec.source,
      ...pit,
      DBSubnetGroupName: s.subnet_group,
      VpcSecurityGroupIds: s.security_groups?.length ? s.security_groups : undefined,
      DBClusterParameterGroupName: s.parameter_group,
      DeletionProtection: false,
      CopyTagsToSnapshot: false,
      Tags: spec.tags,
    }),
  );
  await waitFor("cluster", clusterId, spec.maxWaitTime, () =>
    sdk.waitUntilDBClusterAvailable({ client: rds.client, ...wait }, { DBClusterIdentifier: clusterId }),
  );
}

async function createInstance(
  { rds, sdk, wait, clusterId, instanceId }: CloneTarget,
  created: Created,
  spec: CloneSpec,
) {
  const s = spec.settings;
  rds.owned.add(instanceId);
  created.instance = true;
  spec.log(`aurora: creating instance ${instanceId} (${s.instance_class ?? DEFAULT_INSTANCE_CLASS})`);
  await rds.write(
    new sdk.CreateDBInstanceCommand({
      DBInstanceIdentifier: instanceId,
      DBClusterIdentifier: clusterId,
      Engine: spec.sourceCluster.Engine,
      DBInstanceClass: s.instance_class ?? DEFAULT_INSTANCE_CLASS,
      DBParameterGroupName: s.instance_parameter_group,
      PubliclyAccessible: false,
      Tags: spec.tags,
    }),
  );
  await waitFor("instance", instanceId, spec.maxWaitTime, () =>
    sdk.waitUntilDBInstanceAvailable({ client: rds.client, ...wait }, { DBInstanceIdentifier: instanceId }),
  );
}

/** Waits for the cluster to be available again (after the password reset) and returns it, endpoint included. */
async function availableCluster({ rds, sdk, wait, clusterId }: CloneTarget, maxWaitTime: number) {
  const ready = await waitFor("cluster", clusterId, maxWaitTime, () =>
    sdk.waitUntilDBClusterAvailable({ client: rds.client, ...wait }, { DBClusterIdentifier: clusterId }),
  );
  // The waiter's last answer usually describes the cluster already; else one more read.
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
  return described;
}

/** Runs an SDK waiter; its failures become one AuroraError that says what did not become available. */
async function waitFor<T>(what: string, id: string, maxWaitTime: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (errorName(err) === "TimeoutError")
      throw new AuroraError(
        `the Aurora ${what} ${id} did not become available within ${maxWaitTime} s; it is being deleted`,
      );
    throw new AuroraError(
      `the Aurora ${what} ${id} failed to become available: ${(err as Error).message.slice(0, 500)}`,
    );
  }
}
