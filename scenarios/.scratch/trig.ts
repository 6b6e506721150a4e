import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import pg from "pg";
await using clone = await new EmbeddedProvider().start();
const c = new pg.Client(clone.connectionConfig());
await c.connect();
await c.query(`
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'fired on %', TG_TABLE_NAME; RETURN NEW; END $$;
CREATE TABLE h (a int NOT NULL, CHECK (a < 10));
CREATE TRIGGER tg BEFORE INSERT ON h FOR EACH ROW EXECUTE FUNCTION f();
CREATE TABLE p (a int NOT NULL) PARTITION BY RANGE (a);
CREATE TRIGGER tg BEFORE INSERT ON p FOR EACH ROW EXECUTE FUNCTION f();`);
c.on("notice", (n) => console.log("NOTICE", n.message));
try { await c.query(`ALTER TABLE p ATTACH PARTITION h FOR VALUES FROM (MINVALUE) TO (10)`); console.log("attached with same-named trigger on child");
  console.log((await c.query(`SELECT tgrelid::regclass, tgname, tgparentid <> 0 cloned FROM pg_trigger WHERE NOT tgisinternal`)).rows);
  await c.query(`INSERT INTO p VALUES (1)`);
} catch (e: any) { console.log("ATTACH error:", e.code, e.message); }
await c.end();
