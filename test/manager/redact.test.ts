import fc from "fast-check";
import { containsSecret, hasControl, MASKED_ID, maskIdLike, REDACTED, Redactor, redact, sanitize, stripControl } from "../../src/redact";

const KEY = "2:Ab/Cd+Ef=Gh_Ij-Kl.Mn@Op:Qr,St";
const ID = "8f14e45f-ceea-467f-a8b5-7e6d1a2b3c4d";

/** Every form a server may echo a secret in. */
function forms(secret: string): Record<string, string> {
  const b = Buffer.from(secret, "utf8");
  return {
    plain: secret,
    upper: secret.toUpperCase(),
    lower: secret.toLowerCase(),
    percent: encodeURIComponent(secret),
    percentAll: [...b].map((x) => `%${x.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
    percentLower: [...b].map((x) => `%${x.toString(16).padStart(2, "0")}`).join(""),
    doublePercent: encodeURIComponent(encodeURIComponent(secret)),
    json: JSON.stringify(secret).slice(1, -1),
    jsonSlash: JSON.stringify(secret).slice(1, -1).replace(/\//g, "\\/"),
    jsonUnicode: [...secret].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join(""),
    base64: b.toString("base64"),
    base64NoPad: b.toString("base64").replace(/=+$/, ""),
    base64url: b.toString("base64url"),
    base64Upper: Buffer.from(secret.toUpperCase()).toString("base64"),
    basicAuth: Buffer.from(`user:${secret}`).toString("base64"),
    embedded1: Buffer.from(`x${secret}yz`).toString("base64"),
    embedded2: Buffer.from(`xy${secret}z`).toString("base64url"),
    hex: b.toString("hex"),
    hexUpper: b.toString("hex").toUpperCase(),
  };
}

/** A secret's characters left visible: the longest run of the secret's own text in `out`. */
function longestLeak(out: string, secret: string): number {
  let best = 0;
  for (let i = 0; i < secret.length; i++)
    for (let j = i + best + 1; j <= secret.length; j++) {
      if (out.toLowerCase().includes(secret.slice(i, j).toLowerCase())) best = j - i;
      else break;
    }
  return best;
}

describe("redact", () => {
  for (const [name, secret] of [
    ["an API key", KEY],
    ["an external ID", ID],
  ] as const) {
    for (const [form, text] of Object.entries(forms(secret))) {
      it(`removes ${name} in ${form} form`, () => {
        const out = redact(`before ${text} after`, [secret]);
        expect(out).toContain(REDACTED);
        expect(out.startsWith("before ")).toBe(true);
        expect(out.endsWith(" after")).toBe(true);
        expect(containsSecret(out, [secret])).toBe(false);
        if (!form.startsWith("embedded") && form !== "basicAuth") expect(out).toBe(`before ${REDACTED} after`);
      });
    }
  }

  it("removes a mix of plain, percent-encoded and JSON-escaped characters", () => {
    const mixed = "2%3aAb\\/Cd%2BEf\\u003dGh_Ij-Kl.Mn%40Op:Qr%2cSt";
    expect(redact(`k=${mixed};`, [KEY])).toBe(`k=${REDACTED};`);
  });

  it("removes every occurrence, of several secrets", () => {
    expect(redact(`${KEY} ${ID} ${KEY.toUpperCase()}`, [KEY, ID])).toBe(`${REDACTED} ${REDACTED} ${REDACTED}`);
  });

  it("redacts a secret of 4 characters anywhere, one of 1 to 3 only as a whole token", () => {
    expect(redact("xxabcdxx", ["abcd"])).toBe(`xx${REDACTED}xx`);
    expect(redact("key=ab; about abs", ["ab"])).toBe(`key=${REDACTED}; about abs`);
    expect(redact("q AB q", ["ab"])).toBe(`q ${REDACTED} q`);
    expect(redact(`x ${Buffer.from("ab").toString("base64")} y`, ["ab"])).toBe(`x ${REDACTED} y`);
    expect(redact("x9x 9", ["9"])).toBe(`x9x ${REDACTED}`);
  });

  it("keeps ordinary text as it is", () => {
    const text = "The manager answered HTTP 500: Internal Server Error (connector 12, account 111122223333)";
    expect(redact(text, [KEY, ID])).toBe(text);
  });

  it("holds for random secrets in random forms (property)", () => {
    const secretChars = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@:/_-".split(""));
    fc.assert(
      fc.property(
        fc.string({ unit: secretChars, minLength: 6, maxLength: 80 }),
        fc.constantFrom(...Object.keys(forms("x"))),
        fc.string({ maxLength: 20 }),
        fc.string({ maxLength: 20 }),
        (secret, form, before, after) => {
          const out = redact(`${before}${forms(secret)[form]}${after}`, [secret]);
          // Nothing of the secret survives in a form `redact` knows; at most a few characters
          // of its plain text may appear by chance in the surrounding random text.
          expect(containsSecret(out, [secret])).toBe(false);
          if (form === "plain" || form === "upper") expect(longestLeak(out.split(REDACTED).join(""), secret)).toBeLessThan(secret.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("Redactor learns secrets as they become known", () => {
    const r = new Redactor(["apikey-1234"]);
    expect(r.redact(`apikey-1234 ${ID}`)).toBe(`${REDACTED} ${ID}`);
    r.add(ID);
    expect(r.redact(`apikey-1234 ${ID}`)).toBe(`${REDACTED} ${REDACTED}`);
  });
});

describe("stripControl and sanitize", () => {
  const nasty = [
    "\x1b[2J\x1b[H", // clear the screen
    "\x1b]0;pwned\x07", // set the title (OSC, BEL)
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", // a hyperlink (OSC, ST)
    "\x1bP+q\x1b\\", // DCS
    "\x9b31m", // 8-bit CSI
    "\x9d0;t\x9c", // 8-bit OSC
    "\x1b7\x1b8", // save/restore cursor
    "a\x00b\x07c\x08d\x7fe\x85f",
    "\u202eevil\u202c", // bidi override
    "unterminated \x1b]0;title",
  ];
  for (const text of nasty) {
    it(`removes ${JSON.stringify(text)}`, () => {
      const out = stripControl(`[${text}]`);
      expect(hasControl(out)).toBe(false);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: checking for control characters
      expect(out).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202a-\u202e]/);
      expect(out.startsWith("[")).toBe(true);
    });
  }

  it("keeps the printable text and turns line breaks into spaces (or keeps them on request)", () => {
    expect(stripControl("\x1b[31mred\x1b[0m text\r\nnext\tline")).toBe("red text  next line");
    expect(stripControl("a\r\nb\x1b[1m", { keepNewlines: true })).toBe("a\nb");
    expect(stripControl("naïve café 日本 ✓")).toBe("naïve café 日本 ✓");
  });

  it("a secret split by escape sequences is joined, then redacted", () => {
    const split = `${KEY.slice(0, 5)}\x1b[0m${KEY.slice(5, 9)}\x00${KEY.slice(9)}`;
    expect(sanitize(`key ${split}`, [KEY])).toBe(`key ${REDACTED}`);
  });
});

describe("maskIdLike", () => {
  it("masks every encoded form of a UUID, keeps words and short numbers", () => {
    for (const text of Object.values(forms(ID))) expect(maskIdLike(`id: ${text} end`)).toBe(`id: ${MASKED_ID} end`);
    const page = "<h1>500 Internal Server Error</h1><p>Sign in to continue</p>";
    expect(maskIdLike(page)).toBe(page);
  });
});
