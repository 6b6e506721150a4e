/** A fake RDS API for the Aurora provider's tests: clones come and go, their endpoint is a local PostgreSQL. */
import {
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  RestoreDBClusterToPointInTimeCommand,
  type DBCluster,
  type RDSClient,
} from "@aws-sdk/client-rds";
import type { AwsClientStub } from "aws-sdk-client-mock";
import type pg from "pg";

/** An error shaped like the SDK's service exceptions (matched by `name`). */
export const rdsFault = (name: string, message = name) => Object.assign(new Error(message), { name });

export interface FakeRdsOptions {
  /** The source cluster as DescribeDBClusters describes it (Engine and Status default to aurora, available). */
  source: DBCluster & { DBClusterIdentifier: string };
  /** The local server: the clone's master password is reset on it as the role `masterUser`. */
  admin: pg.Client;
  masterUser: string;
  /** The port the clone's endpoint (127.0.0.1) reports. */
  port: number;
  /** The clone cluster's status (default "available"). */
  clusterStatus?: () => string;
  /** Makes a call fail: return the error to throw, or undefined to let it through. */
  fail?: {
    restore?: () => Error | undefined;
    instance?: () => Error | undefined;
    modify?: (password: string) => Error | undefined;
    deleteCluster?: () => Error | undefined;
  };
}

/** Resets `rds` and answers every call the provider makes; returns the clusters and instances that exist. */
export function fakeRds(rds: AwsClientStub<RDSClient>, opts: FakeRdsOptions) {
  const clusters = new Set<string>();
  const instances = new Set<string>();
  const source = opts.source.DBClusterIdentifier;
  const failing = (error: Error | undefined) => {
    if (error) throw error;
  };
  rds.reset();
  rds.on(DescribeDBClustersCommand).callsFake((input: { DBClusterIdentifier?: string }) => {
    const id = input.DBClusterIdentifier;
    if (id === source)
      return { DBClusters: [{ Engine: "aurora-postgresql", Status: "available", ...opts.source }] };
    if (!id || !clusters.has(id)) throw rdsFault("DBClusterNotFoundFault");
    return {
      DBClusters: [
        {
          DBClusterIdentifier: id,
          Engine: "aurora-postgresql",
          Status: opts.clusterStatus?.() ?? "available",
          Endpoint: "127.0.0.1",
          Port: opts.port,
          MasterUsername: opts.masterUser,
        },
      ],
    };
  });
  rds.on(RestoreDBClusterToPointInTimeCommand).callsFake((input: { DBClusterIdentifier: string }) => {
    failing(opts.fail?.restore?.());
    clusters.add(input.DBClusterIdentifier);
    return { DBCluster: { DBClusterIdentifier: input.DBClusterIdentifier, Status: "creating" } };
  });
  rds.on(CreateDBInstanceCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
    failing(opts.fail?.instance?.());
    instances.add(input.DBInstanceIdentifier);
    return { DBInstance: { DBInstanceIdentifier: input.DBInstanceIdentifier } };
  });
  rds.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
    if (!instances.has(input.DBInstanceIdentifier)) throw rdsFault("DBInstanceNotFoundFault");
    return {
      DBInstances: [{ DBInstanceIdentifier: input.DBInstanceIdentifier, DBInstanceStatus: "available" }],
    };
  });
  rds.on(ModifyDBClusterCommand).callsFake(async (input: { MasterUserPassword: string }) => {
    failing(opts.fail?.modify?.(input.MasterUserPassword));
    // What Aurora does: the clone's master password becomes the new one.
    const { admin } = opts;
    await admin.query(
      `ALTER ROLE ${admin.escapeIdentifier(opts.masterUser)} PASSWORD ${admin.escapeLiteral(input.MasterUserPassword)}`,
    );
    return {};
  });
  rds.on(DeleteDBInstanceCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
    instances.delete(input.DBInstanceIdentifier);
    return {};
  });
  rds.on(DeleteDBClusterCommand).callsFake((input: { DBClusterIdentifier: string }) => {
    failing(opts.fail?.deleteCluster?.());
    clusters.delete(input.DBClusterIdentifier);
    return {};
  });
  return { clusters, instances };
}

/** Every command sent to `rds` since its last reset, by name (without "Command") and input. */
export const rdsCalls = (rds: AwsClientStub<RDSClient>) =>
  rds.calls().map((c) => {
    const cmd = c.args[0] as unknown as { constructor: { name: string }; input: Record<string, unknown> };
    return { command: cmd.constructor.name.replace(/Command$/, ""), input: cmd.input };
  });
