/**
 * Keeps passwords out of everything rehearse prints or writes. Reports quote PostgreSQL error messages,
 * connection strings and user SQL verbatim, and any of those can carry a password, so every reporter and
 * every file writer passes its text through `redact` (or its data through `redactDeep`) last.
 *
 * Redaction errs on the side of hiding too much: a mangled report is a nuisance, a leaked password in a
 * CI log or a pull-request comment is an incident.
 */

export const REDACTED = "***";

const secrets = new Set<string>();

/**
 * Remembers a value that must never be printed (the clone's generated password, a source database's
 * password). Also registers its percent-encoded form, because a password inside a URL is usually encoded.
 * Empty values are ignored: replacing "" would insert *** between every character.
 */
export function registerSecret(value: string | undefined | null): void {
  if (!value) return;
  for (const f of secretForms(value)) secrets.add(f);
}

/**
 * The forms a secret takes in text rehearse prints: as is, percent-encoded (in a URL), with each ' doubled
 * (inside a SQL string literal, as a failing statement's excerpt shows it) and JSON-escaped (inside a
 * template). A password with a quote in it, written into a dblink URL in a migration, leaked through the
 * statement excerpt before the SQL form was known here.
 */
function secretForms(value: string): string[] {
  const out = new Set([value, encodeURIComponent(value)]);
  for (const v of [...out]) out.add(v.replace(/'/g, "''"));
  out.add(JSON.stringify(value).slice(1, -1));
  return [...out];
}

/** Forgets every registered secret. For tests; a real run keeps its secrets for the life of the process. */
export function clearSecrets(): void {
  secrets.clear();
}

// postgres://user:PASS@host… and postgresql://…. The password runs to the LAST "@" before whitespace or a
// quote: a raw password may itself contain "@" or "/", and stopping at the first "@" would print its tail.
const URL_PASSWORD_RE = /\b(postgres(?:ql)?:\/\/[^:@\s/'"`<>]*:)[^\s'"`<>]*@/gi;

// password=… in a URL query string: ends at "&" or "#" (a URL-encoded password cannot contain either).
const QUERY_PASSWORD_RE = /([?&](?:pg)?password=)[^&#\s'"`<>]*/gi;

// password=… / PGPASSWORD=… in libpq key/value conninfo or a shell line. libpq ends an unquoted value at
// whitespace and allows '…' with backslash escapes; "…" is handled for shell-style text. Not after "?"/"&":
// that is the query form above, whose value ends at "&" — matching it here would also swallow later params.
const KV_PASSWORD_RE =
  /((?<![?&])\b(?:pg)?password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[^\s'"]+)/gi;

/** Replaces registered secrets, $PGPASSWORD, and passwords in postgres URLs and conninfo strings by ***. */
export function redact(text: string): string {
  if (!text) return text;
  let out = text;
  // Literal secrets first: they are found wherever they sit, even where no pattern below would see them.
  // Longest first, so a secret that contains another is replaced whole rather than in pieces.
  const literals = [...secrets];
  const envPassword = process.env.PGPASSWORD;
  // Read at call time, not at import: the CLI or a test may set it after this module loads.
  if (envPassword) literals.push(...secretForms(envPassword));
  literals.sort((a, b) => b.length - a.length);
  for (const s of literals) {
    if (s && out.includes(s)) out = out.split(s).join(REDACTED);
  }
  out = out.replace(URL_PASSWORD_RE, `$1${REDACTED}@`);
  out = out.replace(QUERY_PASSWORD_RE, `$1${REDACTED}`);
  out = out.replace(KV_PASSWORD_RE, `$1${REDACTED}`);
  return out;
}

// JSON keys whose value is a password whatever it looks like (a config or settings object echoed back).
const SECRET_KEY_RE = /^(?:pg)?pass(?:word|wd)?$/i;

/**
 * Returns a copy of a JSON-like value with every string redacted, and the value of any key named
 * password/passwd/pgpassword replaced by *** outright. Redact the data before serialising it: once it is
 * JSON-, XML- or Markdown-escaped, a secret containing a quote, "&" or "|" no longer matches literally.
 */
export function redactDeep<T>(value: T): T {
  return walk(value, new WeakMap()) as T;
}

function walk(value: unknown, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === "string") return redact(value);
  if (value === null || typeof value !== "object") return value;
  const done = seen.get(value);
  if (done !== undefined) return done;
  if (Array.isArray(value)) {
    const arr: unknown[] = [];
    seen.set(value, arr);
    for (const item of value) arr.push(walk(item, seen));
    return arr;
  }
  if (value instanceof Date) return value;
  const obj: Record<string, unknown> = {};
  seen.set(value, obj);
  for (const [k, v] of Object.entries(value)) {
    // Keys are redacted too: a settings map is keyed by whatever the user wrote.
    obj[redact(k)] =
      SECRET_KEY_RE.test(k) && v !== null && v !== undefined && v !== "" ? REDACTED : walk(v, seen);
  }
  return obj;
}
