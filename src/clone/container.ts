/**
 * A PostgreSQL server in a container, started through testcontainers on whatever Docker-API engine
 * DOCKER_HOST names (Docker, or podman's API socket: scripts/container-engine.sh sets one up and builds
 * `localhost/rehearse-postgres:15` without a registry). For teams whose PostgreSQL is a container image:
 * the rehearsal runs on the exact image they ship, extensions and all.
 */
import { randomBytes } from "node:crypto";
import type { PostgreSqlContainer, StartedPostgreSqlContainer } from "@testcontainers/postgresql";
import pg from "pg";
import { registerCleanup } from "../util/cleanup.ts";
import { redact, registerSecret } from "../util/redact.ts";
import { DEFAULT_SETTINGS } from "./embedded.ts";
import { writeProvenance } from "./provenance.ts";
import { type Clone, type CloneOptions, type CloneProvider, CloneRefusedError } from "./provider.ts";

/** The official image's major when neither target.image nor target.version says: embedded's major. */
const DEFAULT_MAJOR = 17;

/**
 * Printed by PostgreSQL when it accepts connections. Images built like the official one print it twice: once
 * for the temporary server that creates the database (socket only), once for the real one — so only the
 * second means the database exists and the port is served.
 */
export const READY_LINE = "database system is ready to accept connections";

/** What scripts/container-engine.sh sets up; named in every error a missing engine or image causes. */
export const ENGINE_FIX =
  "run scripts/container-engine.sh as root (podman with its Docker-API socket, and the image " +
  "localhost/rehearse-postgres:15 built from Debian's packages) and export what it prints: DOCKER_HOST, " +
  "TESTCONTAINERS_RYUK_DISABLED=true, TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1; or point DOCKER_HOST at a running Docker";

/** The image a clone runs: target.image, else the official image of target.version (default 17). */
export function containerImage(options: Pick<CloneOptions, "image" | "version">): string {
  return options.image ?? `postgres:${options.version ?? DEFAULT_MAJOR}`;
}

/** Labels on every container this provider starts, so a leftover can be traced to its run. */
export const LABEL_RUN_ID = "rehearse.run-id";

export interface ContainerProviderOptions {
  /** How long the server may take to print its second ready line (initdb included); default 120 s. */
  startupTimeoutMs?: number;
}

class ContainerClone implements Clone {
  readonly provider = "container";
  readonly method = "initdb" as const;
  #stopped = false;

  constructor(
    private readonly container: StartedPostgreSqlContainer,
    readonly image: string,
    private readonly password: string,
    private readonly database: string,
    private readonly unregister: () => void,
  ) {}

  /** The container's name (`podman ps -a --filter name=…`). */
  get name(): string {
    return this.container.getName().replace(/^\//, "");
  }

  connectionConfig(): pg.ClientConfig {
    return {
      host: this.container.getHost(),
      port: this.container.getPort(),
      user: "postgres",
      password: this.password,
      database: this.database,
    };
  }

  displayUrl(): string {
    return `postgres://postgres:***@${this.container.getHost()}:${this.container.getPort()}/${this.database}`;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      // A throwaway clone: no need to wait for a clean shutdown checkpoint before removing it.
      await this.container.stop({ timeout: 2_000, remove: true, removeVolumes: true });
    } finally {
      this.unregister();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** postgres -c flags for the settings; the server must listen on the container's interface, not loopback. */
function settingArgs(settings: Record<string, string | number | boolean>): string[] {
  const args: string[] = [];
  for (const [k, v] of Object.entries({ ...DEFAULT_SETTINGS, ...settings, listen_addresses: "*" })) {
    args.push("-c", `${k}=${typeof v === "boolean" ? (v ? "on" : "off") : String(v)}`);
  }
  return args;
}

/**
 * PostgreSqlContainer as a clone needs it, adjusted just before the container is created:
 * - no health check. It adds a pg_isready one (with the password on its command line) unless given one;
 *   podman without systemd cannot run health checks, logs an error for each container and leaves it
 *   "starting" forever. Readiness comes from the wait strategy instead;
 * - with `loopback`, the port published on 127.0.0.1 only (Docker's default is every interface): a clone
 *   holds production-shaped data, and the embedded and system providers listen on loopback too.
 */
function cloneContainer(Base: typeof PostgreSqlContainer, loopback: boolean): typeof PostgreSqlContainer {
  return class extends Base {
    protected override async beforeContainerCreated(): Promise<void> {
      // Not Docker's Test: ["NONE"]: podman 4 still sets up (and fails to) a health check timer for it.
      delete this.createOpts.Healthcheck;
      if (!loopback) return;
      for (const bindings of Object.values(this.hostConfig.PortBindings ?? {}) as { HostIp?: string }[][]) {
        for (const b of bindings) b.HostIp = "127.0.0.1";
      }
    }
  };
}

/** A container name Docker and podman accept ([a-zA-Z0-9][a-zA-Z0-9_.-]*), unique per clone. */
function containerName(runId: string | undefined): string {
  const base = (runId ?? "clone")
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .slice(0, 80);
  return `rehearse-${base}-${randomBytes(3).toString("hex")}`;
}

/**
 * A fresh PostgreSQL in a container (target.image, default the official `postgres` image), initialised by
 * the image's own entrypoint from POSTGRES_PASSWORD / POSTGRES_DB, then seeded like any other clone.
 */
export class ContainerProvider implements CloneProvider {
  readonly name = "container";

  constructor(private readonly opts: ContainerProviderOptions = {}) {}

  async start(options: CloneOptions = {}): Promise<ContainerClone> {
    const image = containerImage(options);
    const database = options.database ?? "rehearsal";
    const log = options.log ?? (() => {});
    // testcontainers is large; only runs that use this provider load it.
    const [{ PostgreSqlContainer }, { getContainerRuntimeClient, ImageName, Wait }] = await Promise.all([
      import("@testcontainers/postgresql"),
      import("testcontainers"),
    ]);

    let client: Awaited<ReturnType<typeof getContainerRuntimeClient>>;
    try {
      client = await getContainerRuntimeClient();
    } catch (err) {
      const where = process.env.DOCKER_HOST
        ? `DOCKER_HOST=${redact(process.env.DOCKER_HOST)}`
        : "DOCKER_HOST is not set and no Docker socket was found";
      throw new CloneRefusedError(
        `target.provider is container, but no container engine is reachable (${where}): ${(err as Error).message}`,
        ENGINE_FIX,
      );
    }

    // Checked before anything is created: a missing image must not leave a half-made container behind.
    const imageName = ImageName.fromString(image);
    if (!(await client.image.exists(imageName))) {
      log(`container image ${image} not on the engine: pulling it`);
      let pullError = "";
      try {
        await client.image.pull(imageName);
      } catch (err) {
        pullError = `: ${(err as Error).message}`;
      }
      if (!(await client.image.exists(imageName)))
        throw new CloneRefusedError(
          `the container image "${image}" is not on the engine (${client.info.containerRuntime.remoteSocketPath ?? "DOCKER_HOST"}) and could not be pulled${pullError}`,
          options.image
            ? `check target.image, or pull or build "${image}" on the engine first (scripts/container-engine.sh builds localhost/rehearse-postgres:15)`
            : `set target.image to an image the engine has (scripts/container-engine.sh builds localhost/rehearse-postgres:15), or let the engine reach a registry that has "${image}"`,
        );
    }

    const password = randomBytes(18).toString("base64url");
    registerSecret(password);
    const name = containerName(options.runId);
    /** The container's last log lines, to say why it did not become ready. */
    const lastLines: string[] = [];
    // An engine on this machine is reached on loopback; a remote one (DOCKER_HOST=tcp://…) on its own address.
    const host = client.info.containerRuntime.host;
    const loopback = host === "localhost" || host === "127.0.0.1" || host === "::1";
    const builder = new (cloneContainer(PostgreSqlContainer, loopback))(image)
      .withName(name)
      .withLabels({ [LABEL_RUN_ID]: options.runId ?? "" })
      .withUsername("postgres")
      .withPassword(password)
      .withDatabase(database)
      .withCommand(["postgres", ...settingArgs(options.settings ?? {})])
      // The default (a 64 MB /dev/shm) is too small for parallel query and big sorts on real data.
      .withSharedMemorySize(256 * 1024 * 1024)
      // Without systemd, podman never runs health checks, so the readiness signal is the server's own log:
      // its second ready line (the first is the init's temporary server), and the mapped port answering.
      .withWaitStrategy(Wait.forAll([Wait.forLogMessage(READY_LINE, 2), Wait.forListeningPorts()]))
      .withStartupTimeout(this.opts.startupTimeoutMs ?? 120_000)
      .withLogConsumer((stream) => {
        stream.on("data", (chunk: string | Buffer) => {
          const line = String(chunk).trimEnd();
          lastLines.push(line);
          if (lastLines.length > 15) lastLines.shift();
          log(`[${name}] ${line}`);
        });
      });

    let container: StartedPostgreSqlContainer | undefined;
    /** Removes the container by name: works before start() has returned a handle, e.g. on Ctrl-C. */
    const removeByName = async () => {
      const c = client.container.getById(name);
      await client.container.stop(c, { timeout: 0 }).catch(() => {});
      await client.container.remove(c, { removeVolumes: true }).catch(() => {});
    };
    let starting: Promise<unknown> | undefined;
    const unregister = registerCleanup(`remove container ${name}`, async () => {
      await removeByName();
      // A create request already on its way would land after the first removal: wait for it, remove again.
      if (starting) {
        await Promise.race([starting.catch(() => {}), new Promise((r) => setTimeout(r, 5_000))]);
        await removeByName();
      }
    });
    try {
      log(`starting container ${name} from ${image} on ${client.info.containerRuntime.host}`);
      const t = performance.now();
      const started = builder.start();
      starting = started;
      try {
        container = await started;
      } catch (err) {
        const tail = lastLines.length > 0 ? `; its last log lines:\n${lastLines.join("\n")}` : "";
        throw new CloneRefusedError(
          `the container ${name} from "${image}" did not become ready: ${(err as Error).message}${tail}`,
          "the image must start PostgreSQL like the official postgres image does: honour POSTGRES_PASSWORD and " +
            `POSTGRES_DB, and print "${READY_LINE}" twice (init, then the real server); ` +
            "`rehearse run --debug` shows the whole container log",
        );
      }
      log(`container ${name} ready after ${Math.round(performance.now() - t)} ms`);
      const clone = new ContainerClone(container, image, password, database, unregister);
      const db = new pg.Client(clone.connectionConfig());
      db.on("error", () => {});
      await db.connect();
      try {
        await writeProvenance(db, { provider: "container", source: `image:${image}`, run_id: options.runId });
      } finally {
        await db.end().catch(() => {});
      }
      return clone;
    } catch (err) {
      if (container) await container.stop({ timeout: 0, remove: true, removeVolumes: true }).catch(() => {});
      await removeByName();
      unregister();
      throw err;
    }
  }
}
