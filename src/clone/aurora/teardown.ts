/**
 * Deleting an Aurora clone: the instance first (a cluster with instances cannot be deleted), then the
 * cluster, only what provisioning created. Registered as a cleanup before the first write, so a Ctrl-C
 * during provisioning still deletes whatever exists by then; what it cannot delete is named with the
 * commands that would.
 */
import { registerCleanup } from "../../util/cleanup.ts";
import { AuroraError, type CloneTarget, type Created, errorName } from "./rds.ts";

/**
 * Registers the clone's deletion as a cleanup and returns it. `created` is read when it runs, not now:
 * provisioning sets its flags as it goes. `expires` is when `rehearse gc` would delete a clone left behind.
 */
export function registerTeardown(
  t: CloneTarget,
  created: Readonly<Created>,
  expires: Date,
  log: (line: string) => void,
): () => Promise<void> {
  const teardown = async () => {
    const left = await deleteCreated(t, created);
    unregister();
    if (left.length > 0)
      throw new AuroraError(
        `could not delete the Aurora clone: ${left.join("; ")}. Delete it with ` +
          `\`aws rds delete-db-instance --db-instance-identifier ${t.instanceId} --skip-final-snapshot\` then ` +
          `\`aws rds delete-db-cluster --db-cluster-identifier ${t.clusterId} --skip-final-snapshot\`, or run \`rehearse gc\` after ${expires.toISOString()}`,
      );
    log(`aurora: deleted the clone ${t.clusterId}`);
  };
  const unregister = registerCleanup(`delete the Aurora clone ${t.clusterId}`, () => teardown());
  return teardown;
}

/** Deletes the instance (waiting until it is gone), then the cluster; returns what is left, and why. */
async function deleteCreated(
  { rds, sdk, wait, clusterId, instanceId }: CloneTarget,
  created: Readonly<Created>,
) {
  const left: string[] = [];
  if (created.instance) {
    try {
      await rds.write(
        new sdk.DeleteDBInstanceCommand({ DBInstanceIdentifier: instanceId, SkipFinalSnapshot: true }),
      );
      await sdk.waitUntilDBInstanceDeleted(
        { client: rds.client, ...wait },
        { DBInstanceIdentifier: instanceId },
      );
    } catch (err) {
      // Already gone is what deleting it was for.
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
  return left;
}
