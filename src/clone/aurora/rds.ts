/**
 * The one way the aurora provider talks to RDS: throttled calls are retried with backoff (a busy account
 * throttles long provisioning polls), and every write-capable call passes the interlock of aurora-guard.ts.
 */
import type { RDSClient } from "@aws-sdk/client-rds";
import { writeRefusal } from "../aurora-guard.ts";

/** The SDK module, loaded on demand (it is large, and only an aurora run needs it). */
export type RdsSdk = typeof import("@aws-sdk/client-rds");

/** How long to wait, and how often to poll, for the clone to become available or go away. Seconds. */
export interface WaitSettings {
  maxWaitTime: number;
  minDelay: number;
  maxDelay: number;
}

export const DEFAULT_WAIT: WaitSettings = { maxWaitTime: 3600, minDelay: 15, maxDelay: 60 };
const THROTTLING = new Set([
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "RequestThrottled",
  "RequestThrottledException",
]);
const MAX_ATTEMPTS = 6;

/** Any RDS command: what `write` needs to see of it. */
type RdsCommand = { readonly input: object };

/** A call that failed for good, with what the API said. */
export class AuroraError extends Error {
  override name = "AuroraError";
}

export function errorName(err: unknown): string {
  return (err as { name?: string })?.name ?? "";
}

/** Calls RDS, retrying throttled calls with exponential backoff; refuses writes to anything but `owned`. */
export class Rds {
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

/** The clone one run makes, and how to reach RDS about it: what provisioning and teardown share. */
export interface CloneTarget {
  rds: Rds;
  sdk: RdsSdk;
  wait: WaitSettings;
  clusterId: string;
  instanceId: string;
}

/** What provisioning has created so far: the teardown deletes exactly that. Provisioning sets each flag. */
export interface Created {
  cluster: boolean;
  instance: boolean;
}
