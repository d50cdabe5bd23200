/**
 * Keeping secrets out of output. The API key is never shown; the external ID is shown
 * only by `external-id get` and masked to its last four characters everywhere else.
 *
 * `redact` finds each secret in the forms a server, a proxy or a log line may put it in:
 * - as it is, in any letter case;
 * - percent-encoded (any subset of its characters, `%xx` in either case, or double-encoded
 *   `%25xx`), and JSON-escaped (`\uXXXX`, `\/`), in any mix with the plain characters;
 * - base64 (standard and url-safe, padded or not), also inside a longer base64 text (such as
 *   `Basic` credentials or a header dump): the characters that depend on the secret alone are
 *   found at each of the three byte alignments;
 * - hex of its UTF-8 bytes.
 *
 * Short secrets: a secret of 4 characters or more is redacted wherever it stands. A secret of
 * 1 to 3 characters would match inside ordinary words (an API key "ab" inside "about"), so it
 * is redacted only where it stands as a whole token: not preceded or followed by a letter or
 * digit. Its base64 and hex forms are redacted as whole tokens too. Embedded base64 (the
 * alignments inside a longer base64 text) is searched only when the part that depends on the
 * secret alone is 8 characters or more (a secret of 6 bytes or more); shorter parts would
 * match random text.
 *
 * `stripControl` removes terminal escape sequences (ESC, CSI, OSC, DCS and the other string
 * controls, in their 7-bit and 8-bit forms), the remaining C0 and C1 control characters and
 * DEL, and the Unicode bidirectional controls, so that a server's text cannot move the cursor,
 * rewrite the terminal title, hide text or reorder what the user reads. `sanitize` does both.
 */

/** `****wxyz`: enough to tell two IDs apart, not enough to use one. */
export function maskExternalId(id: string): string {
  return id.length <= 4 ? "****" : `****${id.slice(-4)}`;
}

export const REDACTED = "[REDACTED]";

/** Secrets shorter than this are redacted only as whole tokens. */
export const WHOLE_TOKEN_BELOW = 4;

const cache = new Map<string, RegExp[]>();

/** Replaces every occurrence of each secret, in every form above, in `text`. */
export function redact(text: string, secrets: Iterable<string | undefined>, replacement = REDACTED): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const pattern of patternsFor(secret)) out = out.replace(pattern, replacement);
  }
  return out;
}

/** Whether `text` holds any of the secrets in any of the forms `redact` finds. */
export function containsSecret(text: string, secrets: Iterable<string | undefined>): boolean {
  for (const secret of secrets) {
    if (!secret) continue;
    for (const pattern of patternsFor(secret)) {
      pattern.lastIndex = 0;
      if (pattern.test(text)) return true;
    }
  }
  return false;
}

/**
 * A set of secrets that grows as they become known (the API key at once, the external ID
 * when it is read), and redacts them all.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const s of secrets) this.add(s);
  }

  add(secret: string | undefined): void {
    if (!secret) return;
    this.secrets.add(secret);
    const trimmed = secret.trim();
    if (trimmed && trimmed !== secret) this.secrets.add(trimmed);
  }

  has(secret: string): boolean {
    return this.secrets.has(secret);
  }

  get size(): number {
    return this.secrets.size;
  }

  redact(text: string): string {
    return redact(text, this.secrets);
  }

  /** Strips control characters and escape sequences, then redacts. */
  sanitize(text: string, options: StripOptions = {}): string {
    return redact(stripControl(text, options), this.secrets);
  }

  contains(text: string): boolean {
    return containsSecret(text, this.secrets);
  }
}

function patternsFor(secret: string): RegExp[] {
  let patterns = cache.get(secret);
  if (!patterns) {
    patterns = buildPatterns(secret);
    if (cache.size > 256) cache.clear();
    cache.set(secret, patterns);
  }
  for (const p of patterns) p.lastIndex = 0;
  return patterns;
}

function buildPatterns(secret: string): RegExp[] {
  const short = [...secret].length < WHOLE_TOKEN_BELOW;
  const bound = (body: string) => (short ? `(?<![\\p{L}\\p{N}])(?:${body})(?![\\p{L}\\p{N}])` : body);
  const literal: string[] = [];
  // Every case variant's bytes differ, so each has its own base64 and hex.
  const variants = new Set([secret, secret.toLowerCase(), secret.toUpperCase()]);
  for (const v of variants) {
    const bytes = Buffer.from(v, "utf8");
    const std = bytes.toString("base64");
    literal.push(std, std.replace(/=+$/, ""), bytes.toString("base64url"));
    if (!short) {
      literal.push(bytes.toString("hex"));
      for (let offset = 0; offset < 3; offset++) {
        const core = base64Core(bytes, offset);
        if (core.length >= 8) literal.push(core, core.replace(/\+/g, "-").replace(/\//g, "_"));
      }
    }
  }
  const unique = [...new Set(literal.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  const patterns = [new RegExp(bound(charByChar(secret)), "giu")];
  if (unique.length > 0) patterns.push(new RegExp(bound(unique.map(escapeRegExp).join("|")), "giu"));
  return patterns;
}

/** The base64 characters that depend only on the secret's bytes, when it starts `offset` bytes into a 3-byte group. */
function base64Core(bytes: Buffer, offset: number): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
  const start = Math.ceil((offset * 8) / 6);
  const end = Math.floor(((offset + bytes.length) * 8) / 6);
  return encoded.slice(start, end);
}

/** One alternation per character: as it is, percent-encoded (once or twice), JSON-escaped. */
function charByChar(secret: string): string {
  return [...secret]
    .map((ch) => {
      const forms = [escapeRegExp(ch)];
      const pct = [...Buffer.from(ch, "utf8")].map((b) => b.toString(16).padStart(2, "0"));
      forms.push(pct.map((h) => `%(?:25)?${h}`).join(""));
      const code = ch.codePointAt(0)!;
      if (code <= 0xffff) forms.push(`\\\\u${code.toString(16).padStart(4, "0")}`);
      else {
        const hi = ch.charCodeAt(0).toString(16);
        const lo = ch.charCodeAt(1).toString(16);
        forms.push(`\\\\u${hi}\\\\u${lo}`);
      }
      if (ch === "/") forms.push("\\\\/");
      if (ch === " ") forms.push("\\+");
      if (ch === '"') forms.push('\\\\"');
      if (ch === "\\") forms.push("\\\\\\\\");
      return `(?:${forms.join("|")})`;
    })
    .join("");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** What `maskIdLike` puts in place of a token that may be an external ID. */
export const MASKED_ID = "[ID?]";

/**
 * Masks every token that could be an external ID not known yet (for the answer to the
 * external ID read, before the ID is known): a run of 8 or more characters of the AWS
 * external ID set (`A-Za-z0-9+=,.@:/_-`), or of its percent-, JSON- or base64-encoded forms,
 * that holds a digit. Manager-defined IDs are UUIDs, which always hold digits; ordinary words
 * and short numbers are kept, so that an HTML page or an error message stays readable.
 */
export function maskIdLike(text: string): string {
  return text.replace(/[A-Za-z0-9+=,.@:/_%\\-]{8,}/g, (token) => (/\d/.test(token) ? MASKED_ID : token));
}

// ---------------------------------------------------------------------------------------

export interface StripOptions {
  /** Keep line breaks (`\n`); otherwise they and tabs become spaces. Default: false. */
  readonly keepNewlines?: boolean;
}

/* biome-ignore-start lint/suspicious/noControlCharactersInRegex: these patterns exist to find control characters */
const ESCAPE_SEQUENCES = new RegExp(
  [
    // OSC, DCS, SOS, PM, APC: a string up to BEL or ST (ESC \ or 0x9c), or to the end when unterminated.
    "(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d\\x9e\\x9f])[^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)?",
    // CSI: ESC [ or 0x9b, parameters, intermediates, a final byte.
    "(?:\\x1b\\[|\\x9b)[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]?",
    // Other escapes: ESC, intermediates, one final character.
    "\\x1b[\\x20-\\x2f]*[\\x30-\\x7e]?",
  ].join("|"),
  "g",
);
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/* biome-ignore-end lint/suspicious/noControlCharactersInRegex: end */

/** Removes terminal escape sequences and control characters (see the file's comment). */
export function stripControl(text: string, options: StripOptions = {}): string {
  let out = text.replace(ESCAPE_SEQUENCES, "");
  out = options.keepNewlines ? out.replace(/\r\n?/g, "\n").replace(/\t/g, " ") : out.replace(/[\t\n\r]/g, " ");
  return out.replace(CONTROLS, "");
}

/** Strips control characters and escape sequences, then redacts the secrets: for anything a server supplied. */
export function sanitize(text: string, secrets: Iterable<string | undefined> = [], options: StripOptions = {}): string {
  return redact(stripControl(text, options), secrets);
}

/** Whether `text` holds a control character or an escape sequence that `stripControl` would remove. */
export function hasControl(text: string): boolean {
  ESCAPE_SEQUENCES.lastIndex = 0;
  CONTROLS.lastIndex = 0;
  const found = ESCAPE_SEQUENCES.test(text) || CONTROLS.test(text.replace(/[\t\n\r]/g, " "));
  ESCAPE_SEQUENCES.lastIndex = 0;
  CONTROLS.lastIndex = 0;
  return found;
}
