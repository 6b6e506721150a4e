/**
 * The refusals the aurora provider makes before its first write: settings it cannot work with, a clone
 * identifier that collides with the source, a source that is missing, unreachable or not Aurora PostgreSQL.
 * Each ends the run with a fix (CloneRefusedError) while nothing exists yet that would need deleting.
 */
import type { DBCluster } from "@aws-sdk/client-rds";
import type { AuroraTarget } from "../../scenario/schema.ts";
import { errorName, type Rds, type RdsSdk } from "./rds.ts";
import { CloneRefusedError } from "../provider.ts";

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

/** Throws every settings problem at once; returns the source cluster's identifier otherwise. */
export function refuseIncompleteSettings(s: Partial<AuroraTarget>): string {
  const problems = auroraProblems(s);
  if (problems.length > 0)
    throw new CloneRefusedError(
      `the aurora provider cannot make a clone:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      "complete target.aurora in scenario.yaml (or pass the --aurora-… flags)",
    );
  return s.source_cluster!;
}

/** Before any call: a clone named like its source would make every later write a write to production. */
export function refuseCloneNamedLikeSource(clusterId: string, instanceId: string, source: string): void {
  if (clusterId.toLowerCase() === source.toLowerCase() || instanceId.toLowerCase() === source.toLowerCase())
    throw new CloneRefusedError(
      `the clone would be named ${clusterId}, like its source cluster ${source}`,
      "name a different source cluster, or let rehearse choose the clone's identifier",
    );
}

/** The source cluster as RDS describes it (the first call the provider makes); refused unless Aurora PostgreSQL. */
export async function describeSource(rds: Rds, sdk: RdsSdk, source: string): Promise<DBCluster> {
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
  return sourceCluster;
}
