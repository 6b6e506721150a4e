/** COPY … FROM STDIN through a Queryable, so callers stream into the database without the driver's copy streams. */
import { createReadStream } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import type { Queryable } from "./sql.ts";

/**
 * Escapes lines for COPY's text format, where backslash starts an escape, tab separates columns and a bare
 * carriage return is an error. Each special is one ASCII byte, which never occurs inside a UTF-8 multi-byte
 * sequence, so escaping chunk by chunk is safe at any chunk boundary. Keys the load writes (uuids, numbers)
 * contain none of them and pass through untouched.
 */
export function copyTextEscape(): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      if (chunk.indexOf(0x5c) < 0 && chunk.indexOf(0x09) < 0 && chunk.indexOf(0x0d) < 0) {
        cb(null, chunk);
        return;
      }
      const out: number[] = [];
      for (const b of chunk) {
        if (b === 0x5c) out.push(0x5c, 0x5c);
        else if (b === 0x09) out.push(0x5c, 0x74);
        else if (b === 0x0d) out.push(0x5c, 0x72);
        else out.push(b);
      }
      cb(null, Buffer.from(out));
    },
  });
}

/**
 * Streams `file`, one value per line, into `copySql` (a COPY … FROM STDIN of one text column) on db's
 * connection. Memory stays bounded by the streams' buffers, whatever the file's size.
 */
export async function copyLinesFromFile(db: Queryable, copySql: string, file: string): Promise<void> {
  await pipeline(createReadStream(file), copyTextEscape(), db.query(copyFrom(copySql)));
}
