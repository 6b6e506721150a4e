/**
 * Connecting to a server the run made. Every client is kept in a list the caller owns, so each exit path can
 * close them all; one forgotten client holds the server's shutdown (and a temp directory) hostage.
 */
import pg from "pg";

/** A connect function for one server: every client it makes is pushed onto `into`. */
export function connector(cfg: pg.ClientConfig, into: pg.Client[]): () => Promise<pg.Client> {
  return async () => {
    const c = new pg.Client({ ...cfg, application_name: "rehearse" });
    // A server that goes away must surface as an error on the next query, not crash the process.
    c.on("error", () => {});
    await c.connect();
    into.push(c);
    return c;
  };
}

/** Ends every client in `clients` (emptying the list), never throwing: used on exit paths. */
export async function closeClients(clients: pg.Client[]): Promise<void> {
  for (const c of clients.splice(0)) await c.end().catch(() => {});
}
