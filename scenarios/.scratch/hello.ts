import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import pg from "pg";
await using clone = await new EmbeddedProvider().start();
const c = new pg.Client(clone.connectionConfig());
await c.connect();
console.log((await c.query("select version(), now(), current_setting('TimeZone') tz")).rows);
await c.end();
