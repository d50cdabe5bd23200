/**
 * The local AWS endpoint's S3, over HTTP as the SDKs call it (path-style, requests carrying a
 * SigV4 Authorization header whose credential scope names the service `s3`; signatures are not
 * checked, so the tests do not compute them): buckets, objects with their bytes and attributes,
 * conditional writes, checksums in headers and in `aws-chunked` trailers, listing with
 * delimiters and pages, S3's XML errors; and the other services still answer beside it.
 */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { LocalAws } from "../../src/sandbox/aws";
import { checksum, decodeAwsChunked } from "../../src/sandbox/s3";

let aws: LocalAws;
const KEY_ID = "AKIAPIPELINE00000000";

beforeAll(async () => {
  aws = await LocalAws.start();
});
afterAll(() => aws.stop());

/** An S3 request as the SDKs send it: SigV4 Authorization for service s3 (not verified by the endpoint). */
function s3(method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer | string } = {}) {
  return fetch(`${aws.url}${path}`, {
    method,
    headers: {
      authorization: `AWS4-HMAC-SHA256 Credential=${KEY_ID}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${"0".repeat(64)}`,
      "x-amz-date": "20260101T000000Z",
      "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
      ...init.headers,
    },
    body: init.body,
  });
}

/** The text of the first `<name>` element. */
const tag = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
const tags = (xml: string, name: string) => [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, "g"))].map((m) => m[1]);

async function expectError(response: Response, status: number, code: string) {
  const body = await response.text();
  expect({ status: response.status, code: tag(body, "Code") }).toEqual({ status, code });
  expect(response.headers.get("content-type")).toBe("application/xml");
  expect(body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>/);
  return body;
}

const md5 = (b: Buffer | string) => createHash("md5").update(b).digest("hex");
const b64 = (alg: string, b: Buffer | string) => createHash(alg).update(b).digest("base64");

/** An `aws-chunked` body as the SDKs write it: chunks, a zero chunk, then the trailers (or chunk signatures, signed). */
function awsChunked(data: Buffer, size: number, trailers: Record<string, string>, signed = false): Buffer {
  const sig = signed ? `;chunk-signature=${"a".repeat(64)}` : "";
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) {
    const chunk = data.subarray(at, at + size);
    parts.push(Buffer.from(`${chunk.length.toString(16)}${sig}\r\n`), chunk, Buffer.from("\r\n"));
  }
  parts.push(Buffer.from(`0${sig}\r\n`));
  for (const [name, value] of Object.entries(trailers)) parts.push(Buffer.from(`${name}:${value}\r\n`));
  parts.push(Buffer.from("\r\n"));
  return Buffer.concat(parts);
}

describe("routing", () => {
  it("sends requests signed for s3 to S3 and the others to their services", async () => {
    const before = aws.calls.get("s3.ListBuckets") ?? 0;
    const list = await s3("GET", "/");
    expect(list.status).toBe(200);
    expect(await list.text()).toContain("<ListAllMyBucketsResult");
    expect(aws.calls.get("s3.ListBuckets")).toBe(before + 1);
    // STS (query protocol) through the real SDK on the same port.
    const sts = new STSClient({
      endpoint: aws.url,
      region: "us-east-1",
      maxAttempts: 1,
      credentials: { accessKeyId: KEY_ID, secretAccessKey: "x" },
    });
    expect((await sts.send(new GetCallerIdentityCommand({}))).Arn).toMatch(/^arn:aws:iam::\d{12}:user\/sandbox$/);
    // A GET on a bucket path signed for another service is not S3.
    aws.s3.createBucket("routing-check");
    const notS3 = await fetch(`${aws.url}/routing-check`, {
      headers: {
        authorization: `AWS4-HMAC-SHA256 Credential=${KEY_ID}/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0`,
      },
    });
    expect(await notS3.text()).toContain("<ErrorResponse>");
  });
});

describe("buckets", () => {
  it("creates by CreateBucket and by the test API, heads, lists and refuses duplicates and bad names", async () => {
    const created = await s3("PUT", "/made-by-http", {
      body: '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>',
    });
    expect(created.status).toBe(200);
    expect(created.headers.get("location")).toBe("/made-by-http");
    aws.s3.createBucket("made-by-test-api");

    const head = await s3("HEAD", "/made-by-http");
    expect(head.status).toBe(200);
    expect(head.headers.get("x-amz-bucket-region")).toBe("eu-west-1");
    expect((await s3("HEAD", "/made-by-test-api")).headers.get("x-amz-bucket-region")).toBe("us-east-1");
    const location = await (await s3("GET", "/made-by-http?location")).text();
    expect(location).toContain(">eu-west-1</LocationConstraint>");

    const missing = await s3("HEAD", "/no-such-bucket");
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("");
    await expectError(await s3("GET", "/no-such-bucket?list-type=2"), 404, "NoSuchBucket");
    await expectError(await s3("PUT", "/made-by-http"), 409, "BucketAlreadyOwnedByYou");
    await expectError(await s3("PUT", "/Bad_Name"), 400, "InvalidBucketName");
    expect(() => aws.s3.createBucket("made-by-test-api")).toThrow(/already own it/);

    const names = tags(await (await s3("GET", "/")).text(), "Name");
    expect(names).toEqual(expect.arrayContaining(["made-by-http", "made-by-test-api"]));
  });

  it("answers GetBucketVersioning (never enabled) and NotImplemented for other sub-resources", async () => {
    aws.s3.createBucket("subresources");
    const versioning = await s3("GET", "/subresources?versioning");
    expect(versioning.status).toBe(200);
    expect(await versioning.text()).toContain('<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>');
    const body = await expectError(await s3("GET", "/subresources?policy"), 501, "NotImplemented");
    expect(body).toContain("GetBucketPolicy");
  });

  it("deletes only an empty bucket", async () => {
    aws.s3.createBucket("to-delete");
    aws.s3.putObject("to-delete", "k", "v");
    await expectError(await s3("DELETE", "/to-delete"), 409, "BucketNotEmpty");
    expect((await s3("DELETE", "/to-delete/k")).status).toBe(204);
    expect((await s3("DELETE", "/to-delete")).status).toBe(204);
    expect(aws.s3.buckets.has("to-delete")).toBe(false);
  });
});

describe("objects", () => {
  beforeAll(() => {
    aws.s3.createBucket("objects");
  });

  it("stores the bytes with ETag, Content-Type, Last-Modified and metadata, and reads them back", async () => {
    const bytes = Buffer.from([0, 255, 1, 254, 13, 10, 0x80, 0x41]);
    const put = await s3("PUT", "/objects/dir/one.bin?x-id=PutObject", {
      headers: { "content-type": "application/x-test", "x-amz-meta-owner": "pipeline", "content-md5": b64("md5", bytes) },
      body: bytes,
    });
    expect(put.status).toBe(200);
    expect(put.headers.get("etag")).toBe(`"${md5(bytes)}"`);

    const get = await s3("GET", "/objects/dir/one.bin?x-id=GetObject");
    expect(get.status).toBe(200);
    expect(Buffer.from(await get.arrayBuffer())).toEqual(bytes);
    expect(get.headers.get("etag")).toBe(`"${md5(bytes)}"`);
    expect(get.headers.get("content-type")).toBe("application/x-test");
    expect(get.headers.get("content-length")).toBe("8");
    expect(get.headers.get("x-amz-meta-owner")).toBe("pipeline");
    const lastModified = Date.parse(get.headers.get("last-modified") ?? "");
    expect(Math.abs(Date.now() - lastModified)).toBeLessThan(5_000);

    const head = await s3("HEAD", "/objects/dir/one.bin");
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("8");
    expect(head.headers.get("etag")).toBe(`"${md5(bytes)}"`);
    expect(await head.text()).toBe("");

    const stored = aws.s3.getObject("objects", "dir/one.bin")!;
    expect(stored.body).toEqual(bytes);
    expect(stored.metadata).toEqual({ owner: "pipeline" });
  });

  it("defaults the Content-Type, keeps keys with encoded characters, and returns byte ranges", async () => {
    await s3("PUT", `/objects/${encodeURIComponent("env:/a b+c.txt")}`, { body: Buffer.from("0123456789") });
    const object = aws.s3.getObject("objects", "env:/a b+c.txt");
    expect(object?.contentType).toBe("binary/octet-stream");
    const range = await s3("GET", `/objects/${encodeURIComponent("env:/a b+c.txt")}`, { headers: { range: "bytes=2-4" } });
    expect(range.status).toBe(206);
    expect(range.headers.get("content-range")).toBe("bytes 2-4/10");
    expect(await range.text()).toBe("234");
    await expectError(
      await s3("GET", `/objects/${encodeURIComponent("env:/a b+c.txt")}`, { headers: { range: "bytes=20-" } }),
      416,
      "InvalidRange",
    );
  });

  it("answers NoSuchKey in XML (GET) and a bare 404 (HEAD); DeleteObject is 204 whether or not the key exists", async () => {
    const body = await expectError(await s3("GET", "/objects/missing.tfstate"), 404, "NoSuchKey");
    expect(tag(body, "Key")).toBe("missing.tfstate");
    expect(tag(body, "RequestId")).toMatch(/^[0-9A-F]{16}$/);
    const head = await s3("HEAD", "/objects/missing.tfstate");
    expect(head.status).toBe(404);
    expect(await head.text()).toBe("");
    aws.s3.putObject("objects", "gone", "x");
    expect((await s3("DELETE", "/objects/gone?x-id=DeleteObject")).status).toBe(204);
    expect((await s3("DELETE", "/objects/gone?x-id=DeleteObject")).status).toBe(204);
    expect(aws.s3.getObject("objects", "gone")).toBeUndefined();
  });

  it("writes with If-None-Match: * only when the key is absent (a lock), and with If-Match only over that ETag", async () => {
    const lock = "state.tfstate.tflock";
    const first = await s3("PUT", `/objects/${lock}`, { headers: { "if-none-match": "*" }, body: '{"ID":"first"}' });
    expect(first.status).toBe(200);
    const second = await s3("PUT", `/objects/${lock}`, { headers: { "if-none-match": "*" }, body: '{"ID":"second"}' });
    const body = await expectError(second, 412, "PreconditionFailed");
    expect(tag(body, "Condition")).toBe("If-None-Match");
    expect(aws.s3.getObject("objects", lock)?.body.toString()).toBe('{"ID":"first"}');
    // After the unlock, the next writer gets it.
    expect((await s3("DELETE", `/objects/${lock}`)).status).toBe(204);
    expect((await s3("PUT", `/objects/${lock}`, { headers: { "if-none-match": "*" }, body: '{"ID":"second"}' })).status).toBe(200);

    const etag = `"${md5('{"ID":"second"}')}"`;
    await expectError(await s3("PUT", `/objects/${lock}`, { headers: { "if-match": '"0000"' }, body: "x" }), 412, "PreconditionFailed");
    expect((await s3("PUT", `/objects/${lock}`, { headers: { "if-match": etag }, body: "y" })).status).toBe(200);
    await expectError(await s3("PUT", "/objects/absent", { headers: { "if-match": etag }, body: "y" }), 404, "NoSuchKey");
    // Conditional reads.
    const current = `"${md5("y")}"`;
    expect((await s3("GET", `/objects/${lock}`, { headers: { "if-none-match": current } })).status).toBe(304);
    await expectError(await s3("GET", `/objects/${lock}`, { headers: { "if-match": etag } }), 412, "PreconditionFailed");
  });

  it("verifies checksum headers, keeps them and returns them when asked (x-amz-checksum-mode)", async () => {
    const state = '{"version":4,"serial":1}';
    const put = await s3("PUT", "/objects/checked.tfstate", {
      headers: { "x-amz-sdk-checksum-algorithm": "SHA256", "x-amz-checksum-sha256": b64("sha256", state) },
      body: state,
    });
    expect(put.status).toBe(200);
    expect(put.headers.get("x-amz-checksum-sha256")).toBe(b64("sha256", state));
    const get = await s3("GET", "/objects/checked.tfstate", { headers: { "x-amz-checksum-mode": "ENABLED" } });
    expect(get.headers.get("x-amz-checksum-sha256")).toBe(b64("sha256", state));
    expect((await s3("GET", "/objects/checked.tfstate")).headers.get("x-amz-checksum-sha256")).toBeNull();

    // A wrong checksum, Content-MD5 or signed payload hash: refused, the object unchanged.
    await expectError(
      await s3("PUT", "/objects/checked.tfstate", { headers: { "x-amz-checksum-sha256": b64("sha256", "other") }, body: "changed" }),
      400,
      "BadDigest",
    );
    await expectError(
      await s3("PUT", "/objects/checked.tfstate", { headers: { "content-md5": b64("md5", "other") }, body: "changed" }),
      400,
      "BadDigest",
    );
    await expectError(
      await s3("PUT", "/objects/checked.tfstate", {
        headers: { "x-amz-content-sha256": createHash("sha256").update("other").digest("hex") },
        body: "changed",
      }),
      400,
      "XAmzContentSHA256Mismatch",
    );
    await expectError(
      await s3("PUT", "/objects/checked.tfstate", { headers: { "x-amz-sdk-checksum-algorithm": "CRC32" }, body: "changed" }),
      400,
      "InvalidRequest",
    );
    expect(aws.s3.getObject("objects", "checked.tfstate")?.body.toString()).toBe(state);
  });

  it("decodes aws-chunked bodies (STREAMING-UNSIGNED-PAYLOAD-TRAILER) with every trailing checksum algorithm", async () => {
    const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    for (const algorithm of ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]) {
      const key = `chunked-${algorithm}`;
      const trailer = `x-amz-checksum-${algorithm.toLowerCase()}`;
      const value = checksum(algorithm, data)!;
      const put = await s3("PUT", `/objects/${key}`, {
        headers: {
          "content-encoding": "aws-chunked",
          "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
          "x-amz-decoded-content-length": String(data.length),
          "x-amz-sdk-checksum-algorithm": algorithm,
          "x-amz-trailer": trailer,
          "content-type": "application/json",
        },
        body: awsChunked(data, 16_384, { [trailer]: value }),
      });
      expect({ algorithm, status: put.status }).toEqual({ algorithm, status: 200 });
      expect(put.headers.get("etag")).toBe(`"${md5(data)}"`);
      expect(put.headers.get(trailer)).toBe(value);
      const object = aws.s3.getObject("objects", key)!;
      expect(object.body.equals(data)).toBe(true);
      expect(object.checksums).toEqual({ [algorithm]: value });
      const get = await s3("GET", `/objects/${key}`, { headers: { "x-amz-checksum-mode": "ENABLED" } });
      expect(Buffer.from(await get.arrayBuffer()).equals(data)).toBe(true);
      expect(get.headers.get(trailer)).toBe(value);
    }
  });

  it("decodes signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) and refuses bad trailers, lengths and framing", async () => {
    const data = Buffer.from("terraform state ".repeat(500));
    const signed = await s3("PUT", "/objects/signed-chunks", {
      headers: {
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-decoded-content-length": String(data.length),
      },
      body: awsChunked(data, 1000, {}, true),
    });
    expect(signed.status).toBe(200);
    expect(aws.s3.getObject("objects", "signed-chunks")?.body.equals(data)).toBe(true);

    const headers = {
      "content-encoding": "aws-chunked",
      "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
      "x-amz-decoded-content-length": String(data.length),
      "x-amz-trailer": "x-amz-checksum-crc32",
    };
    const refused = async (body: Buffer, code: string, extra: Record<string, string> = {}) =>
      expectError(await s3("PUT", "/objects/refused", { headers: { ...headers, ...extra }, body }), 400, code);
    await refused(awsChunked(data, 1000, { "x-amz-checksum-crc32": checksum("CRC32", Buffer.from("other"))! }), "BadDigest");
    await refused(awsChunked(data, 1000, {}), "MalformedTrailerError");
    await refused(awsChunked(data, 1000, { "x-amz-checksum-crc32": checksum("CRC32", data)! }), "IncompleteBody", {
      "x-amz-decoded-content-length": String(data.length + 1),
    });
    await refused(Buffer.from("zz\r\nabc\r\n0\r\n\r\n"), "InvalidChunkSizeError");
    await refused(Buffer.from("ff\r\nabc\r\n0\r\n\r\n"), "IncompleteBody");
    expect(aws.s3.getObject("objects", "refused")).toBeUndefined();
  });
});

describe("checksums", () => {
  it("match the algorithms' check values and Node's own digests", () => {
    const nine = Buffer.from("123456789");
    const hex = (algorithm: string) => Buffer.from(checksum(algorithm, nine)!, "base64").toString("hex");
    expect(hex("CRC32")).toBe("cbf43926");
    expect(hex("CRC32C")).toBe("e3069283");
    expect(hex("CRC64NVME")).toBe("ae8b14860a799888");
    expect(checksum("SHA1", nine)).toBe(b64("sha1", nine));
    expect(checksum("SHA256", nine)).toBe(b64("sha256", nine));
    expect(checksum("MD4", nine)).toBeUndefined();
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(nine));
    expect(checksum("crc32", nine)).toBe(crc.toString("base64"));
  });

  it("decodes an aws-chunked body exactly as the SDK for Go v2 framed it", () => {
    const framed = Buffer.from('5\r\n{"a":\r\n2\r\n1}\r\n0\r\nx-amz-checksum-sha256:abc=\r\n\r\n');
    expect(decodeAwsChunked(framed)).toEqual({ body: Buffer.from('{"a":1}'), trailers: { "x-amz-checksum-sha256": "abc=" } });
  });
});

describe("ListObjectsV2", () => {
  const keys = [
    "ds-onboard/roles-111111111111.tfstate",
    "ds-onboard/roles-222222222222.tfstate",
    "ds-onboard/roles-222222222222.tfstate.tflock",
    "env:/staging/ds-onboard/roles.tfstate",
    "env:/prod/ds-onboard/roles.tfstate",
    "env:/prod/other.tfstate",
    "top.tfstate",
    "z/é.tfstate",
    "z/e.tfstate",
  ];
  beforeAll(() => {
    aws.s3.createBucket("listing");
    for (const key of keys) aws.s3.putObject("listing", key, key);
  });
  const list = async (query: string) => {
    const response = await s3("GET", `/listing?list-type=2&${query}`);
    expect(response.status).toBe(200);
    const xml = await response.text();
    return {
      xml,
      keys: tags(xml, "Key"),
      prefixes: [...xml.matchAll(/<CommonPrefixes><Prefix>([^<]*)<\/Prefix><\/CommonPrefixes>/g)].map((m) => m[1]),
      truncated: tag(xml, "IsTruncated"),
      count: Number(tag(xml, "KeyCount")),
      next: tag(xml, "NextContinuationToken"),
    };
  };

  it("lists every key in UTF-8 byte order with sizes and ETags", async () => {
    const all = await list("");
    expect(all.keys).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(all.keys.slice(-2)).toEqual(["z/e.tfstate", "z/é.tfstate"]);
    expect(all.count).toBe(keys.length);
    expect(all.truncated).toBe("false");
    expect(all.xml).toContain(`<Key>top.tfstate</Key><LastModified>`);
    expect(all.xml).toContain(`<ETag>&quot;${md5("top.tfstate")}&quot;</ETag><Size>11</Size>`);
  });

  it("filters by prefix and groups by delimiter, as Terraform lists workspaces (prefix env:/)", async () => {
    const workspaces = await list(`prefix=${encodeURIComponent("env:/")}&max-keys=1000`);
    expect(workspaces.keys).toEqual([
      "env:/prod/ds-onboard/roles.tfstate",
      "env:/prod/other.tfstate",
      "env:/staging/ds-onboard/roles.tfstate",
    ]);
    const grouped = await list(`prefix=${encodeURIComponent("env:/")}&delimiter=%2F`);
    expect(grouped.keys).toEqual([]);
    expect(grouped.prefixes).toEqual(["env:/prod/", "env:/staging/"]);
    expect(grouped.count).toBe(2);
    const top = await list("delimiter=%2F");
    expect(top.keys).toEqual(["top.tfstate"]);
    expect(top.prefixes).toEqual(["ds-onboard/", "env:/", "z/"]);
  });

  it("pages with max-keys and continuation tokens, common prefixes counting once", async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await list(`delimiter=%2F&max-keys=2${token ? `&continuation-token=${encodeURIComponent(token)}` : ""}`);
      expect(page.count).toBeLessThanOrEqual(2);
      seen.push(...page.prefixes, ...page.keys);
      token = page.truncated === "true" ? page.next : undefined;
      if (page.truncated === "true") expect(token).toBeDefined();
      pages++;
    } while (token);
    expect(pages).toBe(2);
    expect(seen.sort()).toEqual(["ds-onboard/", "env:/", "top.tfstate", "z/"]);

    const flat: string[] = [];
    token = undefined;
    do {
      const page = await list(`max-keys=4${token ? `&continuation-token=${encodeURIComponent(token)}` : ""}`);
      flat.push(...page.keys);
      token = page.next;
    } while (token);
    expect(flat).toEqual((await list("")).keys);
  });

  it("starts after a key, encodes keys on request, and refuses bad arguments", async () => {
    expect((await list("start-after=top.tfstate")).keys).toEqual(["z/e.tfstate", "z/é.tfstate"]);
    const encoded = await list("encoding-type=url&prefix=z%2F");
    expect(encoded.keys).toEqual(["z/e.tfstate", "z/%C3%A9.tfstate"]);
    expect(encoded.xml).toContain("<EncodingType>url</EncodingType>");
    await expectError(await s3("GET", "/listing?list-type=2&max-keys=-1"), 400, "InvalidArgument");
    await expectError(await s3("GET", "/listing?list-type=2&continuation-token=bm90LWpzb24"), 400, "InvalidArgument");
  });
});
