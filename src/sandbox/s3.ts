/**
 * An in-memory Amazon S3 for the local AWS endpoint: the part that Terraform's S3 backend
 * (AWS SDK for Go v2, path-style addressing) and the AWS SDKs call. Buckets and objects with
 * their bytes, ETag (quoted MD5 hex), Content-Type, Last-Modified, user metadata and checksums;
 * conditional writes (`If-None-Match: *`, `If-Match`), which Terraform's native state locking
 * (`use_lockfile`) relies on; `aws-chunked` bodies with trailing checksums, which SDK Go v2 sends
 * by default, decoded and verified. Errors are S3's XML. No versioning, ACLs or policies:
 * the bucket-level sub-resources it does not keep answer as for a bucket without them, or
 * NotImplemented.
 *
 * Requests are path-style (`/<bucket>/<key>`); a virtual-hosted request (`<bucket>.localhost`,
 * `<bucket>.s3.<anything>`) is read the same way.
 */
import { createHash, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { crc32 } from "node:zlib";

export interface S3Object {
  readonly key: string;
  readonly body: Buffer;
  /** Quoted MD5 hex, as S3 returns it. */
  readonly etag: string;
  readonly contentType: string;
  readonly lastModified: Date;
  /** User metadata (`x-amz-meta-*`), names in lower case, without the prefix. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Checksums sent with the upload, by algorithm (`CRC32`, `SHA256`, ...), base64. */
  readonly checksums: Readonly<Record<string, string>>;
  readonly serverSideEncryption?: string;
}

export interface S3Bucket {
  readonly name: string;
  /** The account that created it. */
  readonly owner: string;
  readonly region: string;
  readonly createdAt: Date;
  readonly objects: Map<string, S3Object>;
}

export interface PutObjectOptions {
  readonly contentType?: string;
  readonly metadata?: Record<string, string>;
  /** Fails with PreconditionFailed when the key exists (a conditional write, `If-None-Match: *`). */
  readonly ifNoneMatch?: "*";
}

/** A failure S3 reports as `<Error><Code>...`. */
export class S3Fault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly extra: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/";
const MAX_KEYS = 1000;
/** Query parameters that are arguments, not a bucket sub-resource (`?versioning`, `?acl`...). */
const LIST_ARGUMENTS = new Set([
  "list-type",
  "prefix",
  "delimiter",
  "max-keys",
  "marker",
  "start-after",
  "continuation-token",
  "fetch-owner",
  "encoding-type",
  "x-id",
]);

export class LocalS3 {
  readonly buckets = new Map<string, S3Bucket>();

  constructor(private readonly defaultRegion = "us-east-1") {}

  /** Creates a bucket (the test API; CreateBucket over HTTP does the same). Throws if it exists. */
  createBucket(name: string, owner = "000000000000", region = this.defaultRegion): S3Bucket {
    const problem = bucketNameProblem(name);
    if (problem) throw new S3Fault("InvalidBucketName", `The specified bucket is not valid: ${problem}`, 400, { BucketName: name });
    const existing = this.buckets.get(name);
    if (existing)
      throw existing.owner === owner
        ? new S3Fault(
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
            409,
            { BucketName: name },
          )
        : new S3Fault("BucketAlreadyExists", "The requested bucket name is not available.", 409, { BucketName: name });
    const bucket: S3Bucket = { name, owner, region, createdAt: new Date(), objects: new Map() };
    this.buckets.set(name, bucket);
    return bucket;
  }

  bucket(name: string): S3Bucket {
    const bucket = this.buckets.get(name);
    if (!bucket) throw new S3Fault("NoSuchBucket", "The specified bucket does not exist", 404, { BucketName: name });
    return bucket;
  }

  /** The object, or undefined. */
  getObject(bucket: string, key: string): S3Object | undefined {
    return this.bucket(bucket).objects.get(key);
  }

  /** Writes an object as PutObject does (test API). */
  putObject(bucket: string, key: string, body: Buffer | string, options: PutObjectOptions = {}): S3Object {
    return this.store(this.bucket(bucket), key, Buffer.from(body), {
      contentType: options.contentType,
      metadata: options.metadata ?? {},
      checksums: {},
      ifNoneMatch: options.ifNoneMatch,
    });
  }

  /** Deletes an object; true if it was there. */
  deleteObject(bucket: string, key: string): boolean {
    return this.bucket(bucket).objects.delete(key);
  }

  /** The keys of a bucket, sorted as S3 lists them. */
  keys(bucket: string, prefix = ""): string[] {
    return sortedKeys(this.bucket(bucket)).filter((k) => k.startsWith(prefix));
  }

  /**
   * Answers one S3 request whose body has been read. `account` is the caller's account (the
   * owner of the buckets it creates); `count` is told the operation's name.
   */
  handle(req: IncomingMessage, res: ServerResponse, body: Buffer, account: string, count: (operation: string) => void): void {
    const requestId = randomUUID().replace(/-/g, "").slice(0, 16).toUpperCase();
    const url = new URL(req.url ?? "/", "http://s3.local");
    const { bucket, key } = address(url, String(req.headers.host ?? ""));
    const method = (req.method ?? "GET").toUpperCase();
    const operation = operationName(method, bucket, key, url.searchParams);
    count(operation);
    const headers: Record<string, string | number> = { "x-amz-request-id": requestId, "x-amz-id-2": requestId };
    try {
      const reply = this.dispatch(operation, req, bucket ?? "", key ?? "", url.searchParams, body, account);
      const out = reply.body ?? "";
      res.writeHead(reply.status ?? 200, {
        ...headers,
        ...(reply.body === undefined ? {} : { "content-type": "application/xml" }),
        ...reply.headers,
        "content-length": reply.length ?? Buffer.byteLength(out),
      });
      res.end(method === "HEAD" ? undefined : out);
    } catch (e) {
      const fault = e instanceof S3Fault ? e : new S3Fault("InternalError", String(e), 500);
      // HEAD responses carry no body: the SDKs read the code from the status.
      const xml =
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>${x(fault.message)}</Message>` +
        `${Object.entries(fault.extra)
          .map(([k, v]) => `<${k}>${x(v)}</${k}>`)
          .join("")}<RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`;
      res.writeHead(fault.status, { ...headers, "content-type": "application/xml", "content-length": Buffer.byteLength(xml) });
      res.end(method === "HEAD" ? undefined : xml);
    }
  }

  private dispatch(
    operation: string,
    req: IncomingMessage,
    bucketName: string,
    key: string,
    query: URLSearchParams,
    raw: Buffer,
    account: string,
  ): Reply {
    const h = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(",") : v;
    };
    switch (operation) {
      case "ListBuckets":
        return xml(
          `<ListAllMyBucketsResult xmlns="${XMLNS}"><Owner><ID>${account}</ID></Owner><Buckets>${[...this.buckets.values()]
            .filter((b) => b.owner === account)
            .map((b) => `<Bucket><Name>${x(b.name)}</Name><CreationDate>${b.createdAt.toISOString()}</CreationDate></Bucket>`)
            .join("")}</Buckets></ListAllMyBucketsResult>`,
        );
      case "CreateBucket": {
        const body = payload(req, raw).body.toString("utf8");
        const region = /<LocationConstraint>([^<]*)<\/LocationConstraint>/.exec(body)?.[1] || this.defaultRegion;
        this.createBucket(bucketName, account, region);
        return { headers: { location: `/${bucketName}` } };
      }
      case "HeadBucket":
        return { headers: { "x-amz-bucket-region": this.bucket(bucketName).region } };
      case "DeleteBucket": {
        const bucket = this.bucket(bucketName);
        if (bucket.objects.size > 0)
          throw new S3Fault("BucketNotEmpty", "The bucket you tried to delete is not empty", 409, { BucketName: bucketName });
        this.buckets.delete(bucketName);
        return { status: 204 };
      }
      case "GetBucketLocation": {
        const region = this.bucket(bucketName).region;
        return xml(`<LocationConstraint xmlns="${XMLNS}">${region === "us-east-1" ? "" : x(region)}</LocationConstraint>`);
      }
      case "GetBucketVersioning":
        this.bucket(bucketName);
        return xml(`<VersioningConfiguration xmlns="${XMLNS}"/>`);
      case "ListObjectsV2":
      case "ListObjects":
        return xml(list(this.bucket(bucketName), query, operation === "ListObjectsV2"));
      case "PutObject": {
        if (h("x-amz-copy-source")) throw new S3Fault("NotImplemented", "CopyObject is not implemented by the local endpoint.", 501);
        const bucket = this.bucket(bucketName);
        const body = payload(req, raw);
        const md5 = h("content-md5");
        if (md5 !== undefined && md5 !== createHash("md5").update(body.body).digest("base64"))
          throw new S3Fault("BadDigest", "The Content-MD5 you specified did not match what we received.");
        const metadata: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers))
          if (name.startsWith("x-amz-meta-") && value !== undefined)
            metadata[name.slice("x-amz-meta-".length)] = Array.isArray(value) ? value.join(",") : value;
        const ifNoneMatch = h("if-none-match");
        if (ifNoneMatch !== undefined && ifNoneMatch !== "*")
          throw new S3Fault("NotImplemented", "A header you provided implies functionality that is not implemented", 501, {
            Header: "If-None-Match",
          });
        const object = this.store(bucket, key, body.body, {
          contentType: h("content-type"),
          metadata,
          checksums: body.checksums,
          ifNoneMatch,
          ifMatch: h("if-match"),
          serverSideEncryption: h("x-amz-server-side-encryption"),
        });
        return { headers: { etag: object.etag, ...objectChecksumHeaders(object), ...sseHeader(object) } };
      }
      case "GetObject":
      case "HeadObject": {
        const object = this.bucket(bucketName).objects.get(key);
        if (!object) throw new S3Fault("NoSuchKey", "The specified key does not exist.", 404, { Key: key });
        const notModified = checkPreconditions(object, h);
        const headers: Record<string, string | number> = {
          etag: object.etag,
          "last-modified": object.lastModified.toUTCString(),
          "accept-ranges": "bytes",
          ...sseHeader(object),
        };
        for (const [name, value] of Object.entries(object.metadata)) headers[`x-amz-meta-${name}`] = value;
        if (notModified) return { status: 304, headers, length: 0 };
        headers["content-type"] = object.contentType;
        const range = h("range") ? byteRange(h("range")!, object.body.length) : undefined;
        if (!range && h("x-amz-checksum-mode")?.toUpperCase() === "ENABLED") Object.assign(headers, objectChecksumHeaders(object));
        if (range) {
          headers["content-range"] = `bytes ${range.start}-${range.end}/${object.body.length}`;
          const slice = object.body.subarray(range.start, range.end + 1);
          return { status: 206, headers, body: operation === "GetObject" ? slice : undefined, length: slice.length };
        }
        return { headers, body: operation === "GetObject" ? object.body : undefined, length: object.body.length };
      }
      case "DeleteObject": {
        const bucket = this.bucket(bucketName);
        const ifMatch = h("if-match");
        if (ifMatch !== undefined) {
          const object = bucket.objects.get(key);
          if (!object) throw new S3Fault("NoSuchKey", "The specified key does not exist.", 404, { Key: key });
          if (!etagMatches(ifMatch, object.etag)) throw preconditionFailed("If-Match");
        }
        bucket.objects.delete(key);
        return { status: 204 };
      }
      default:
        throw new S3Fault("NotImplemented", `The local AWS endpoint does not implement s3.${operation}.`, 501);
    }
  }

  private store(
    bucket: S3Bucket,
    key: string,
    body: Buffer,
    o: {
      contentType?: string;
      metadata: Record<string, string>;
      checksums: Record<string, string>;
      ifNoneMatch?: string;
      ifMatch?: string;
      serverSideEncryption?: string;
    },
  ): S3Object {
    if (!key) throw new S3Fault("InvalidArgument", "An object key must not be empty.");
    if (Buffer.byteLength(key) > 1024) throw new S3Fault("KeyTooLongError", "Your key is too long", 400);
    const existing = bucket.objects.get(key);
    if (o.ifNoneMatch === "*" && existing) throw preconditionFailed("If-None-Match");
    if (o.ifMatch !== undefined) {
      if (!existing) throw new S3Fault("NoSuchKey", "The specified key does not exist.", 404, { Key: key });
      if (!etagMatches(o.ifMatch, existing.etag)) throw preconditionFailed("If-Match");
    }
    const object: S3Object = {
      key,
      body,
      etag: `"${createHash("md5").update(body).digest("hex")}"`,
      contentType: o.contentType || "binary/octet-stream",
      // S3 keeps Last-Modified to the second.
      lastModified: new Date(Math.floor(Date.now() / 1000) * 1000),
      metadata: o.metadata,
      checksums: o.checksums,
      serverSideEncryption: o.serverSideEncryption,
    };
    bucket.objects.set(key, object);
    return object;
  }
}

interface Reply {
  status?: number;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** Content-Length when it is not the body's (HEAD). */
  length?: number;
}

function xml(body: string): Reply {
  return { body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` };
}

function preconditionFailed(condition: string): S3Fault {
  return new S3Fault("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412, { Condition: condition });
}

/** `/<bucket>/<key>`, or the bucket from a virtual-hosted name. */
function address(url: URL, host: string): { bucket?: string; key?: string } {
  const path = url.pathname;
  const hostname = host.replace(/:\d+$/, "");
  const virtual = /^(.+?)\.(?:s3[.-]|localhost$)/.exec(hostname)?.[1];
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new S3Fault("InvalidURI", "Couldn't parse the specified URI.");
    }
  };
  if (virtual) return { bucket: virtual, key: path.length > 1 ? decode(path.slice(1)) : undefined };
  const m = /^\/([^/]+)(?:\/(.*))?$/s.exec(path);
  if (!m) return {};
  return { bucket: decode(m[1]), key: m[2] === undefined || m[2] === "" ? undefined : decode(m[2]) };
}

function operationName(method: string, bucket: string | undefined, key: string | undefined, query: URLSearchParams): string {
  if (!bucket) return method === "GET" ? "ListBuckets" : `${method}Service`;
  if (key === undefined) {
    const subresource = [...query.keys()].find((k) => !LIST_ARGUMENTS.has(k));
    if (subresource) {
      const name = subresource.charAt(0).toUpperCase() + subresource.slice(1);
      return `${{ GET: "GetBucket", PUT: "PutBucket", DELETE: "DeleteBucket", POST: "PostBucket", HEAD: "HeadBucket" }[method] ?? method}${name}`;
    }
    switch (method) {
      case "GET":
        return query.get("list-type") === "2" ? "ListObjectsV2" : "ListObjects";
      case "PUT":
        return "CreateBucket";
      case "HEAD":
        return "HeadBucket";
      case "DELETE":
        return "DeleteBucket";
      default:
        return `${method}Bucket`;
    }
  }
  const subresource = [...query.keys()].find((k) => k !== "x-id");
  if (subresource) return `${method}Object${subresource.charAt(0).toUpperCase()}${subresource.slice(1)}`;
  return { GET: "GetObject", PUT: "PutObject", HEAD: "HeadObject", DELETE: "DeleteObject" }[method] ?? `${method}Object`;
}

/** ListObjectsV2 (or V1): prefix, delimiter, max-keys, continuation (or marker), start-after, encoding-type=url. */
function list(bucket: S3Bucket, query: URLSearchParams, v2: boolean): string {
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter") ?? "";
  const maxKeysText = query.get("max-keys");
  const maxKeys = maxKeysText === null ? MAX_KEYS : Number(maxKeysText);
  if (!Number.isInteger(maxKeys) || maxKeys < 0)
    throw new S3Fault("InvalidArgument", "Provided max-keys not an integer or within integer range", 400, {
      ArgumentName: "max-keys",
      ArgumentValue: String(maxKeysText),
    });
  const limit = Math.min(maxKeys, MAX_KEYS);
  const encode = query.get("encoding-type") === "url";
  if (query.has("encoding-type") && !encode)
    throw new S3Fault("InvalidArgument", "Invalid Encoding Method specified in Request", 400, { ArgumentName: "encoding-type" });
  const enc = (s: string) => x(encode ? encodeURIComponent(s).replace(/%2F/g, "/") : s);
  // Where to resume: after a key, or after every key under a common prefix.
  let after = "";
  let afterPrefix: string | undefined;
  const token = query.get("continuation-token");
  if (v2 && token !== null) {
    const decoded = decodeToken(token);
    if (!decoded)
      throw new S3Fault("InvalidArgument", "The continuation token provided is incorrect", 400, { ArgumentName: "continuation-token" });
    ({ after, afterPrefix } = decoded);
  } else if (v2) after = query.get("start-after") ?? "";
  else after = query.get("marker") ?? "";
  const contents: S3Object[] = [];
  const prefixes: string[] = [];
  let truncated = false;
  let last: { after: string; afterPrefix?: string } | undefined;
  for (const key of sortedKeys(bucket)) {
    if (!key.startsWith(prefix) || compareKeys(key, after) <= 0) continue;
    if (afterPrefix !== undefined && key.startsWith(afterPrefix)) continue;
    const at = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    const common = at >= 0 ? key.slice(0, at + delimiter.length) : undefined;
    if (common !== undefined && prefixes[prefixes.length - 1] === common) continue;
    if (contents.length + prefixes.length >= limit) {
      truncated = limit > 0;
      break;
    }
    if (common !== undefined) {
      prefixes.push(common);
      last = { after: key, afterPrefix: common };
    } else {
      contents.push(bucket.objects.get(key)!);
      last = { after: key };
    }
  }
  const el = (name: string, value: string | number | undefined) => (value === undefined ? "" : `<${name}>${value}</${name}>`);
  const items = contents
    .map(
      (o) =>
        `<Contents><Key>${enc(o.key)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>${x(o.etag)}</ETag>` +
        `${Object.keys(o.checksums)
          .map((a) => `<ChecksumAlgorithm>${a}</ChecksumAlgorithm>`)
          .join("")}<Size>${o.body.length}</Size>` +
        `${v2 && query.get("fetch-owner") !== "true" ? "" : `<Owner><ID>${bucket.owner}</ID></Owner>`}<StorageClass>STANDARD</StorageClass></Contents>`,
    )
    .join("");
  const common = prefixes.map((p) => `<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`).join("");
  const head =
    `<Name>${x(bucket.name)}</Name><Prefix>${enc(prefix)}</Prefix>${delimiter ? el("Delimiter", enc(delimiter)) : ""}` +
    `<MaxKeys>${maxKeys}</MaxKeys>${encode ? "<EncodingType>url</EncodingType>" : ""}<IsTruncated>${truncated}</IsTruncated>`;
  if (v2) {
    const next = truncated && last ? encodeToken(last) : undefined;
    return (
      `<ListBucketResult xmlns="${XMLNS}">${head}<KeyCount>${contents.length + prefixes.length}</KeyCount>` +
      `${token === null ? "" : el("ContinuationToken", x(token))}${el("NextContinuationToken", next && x(next))}` +
      `${query.has("start-after") ? el("StartAfter", enc(query.get("start-after")!)) : ""}${items}${common}</ListBucketResult>`
    );
  }
  const nextMarker = truncated && delimiter && last ? (last.afterPrefix ?? last.after) : undefined;
  return `<ListBucketResult xmlns="${XMLNS}">${head}<Marker>${enc(after)}</Marker>${el("NextMarker", nextMarker && enc(nextMarker))}${items}${common}</ListBucketResult>`;
}

function encodeToken(t: { after: string; afterPrefix?: string }): string {
  return Buffer.from(JSON.stringify(t)).toString("base64");
}

function decodeToken(token: string): { after: string; afterPrefix?: string } | undefined {
  try {
    const t = JSON.parse(Buffer.from(token, "base64").toString("utf8")) as { after?: unknown; afterPrefix?: unknown };
    if (typeof t.after !== "string" || (t.afterPrefix !== undefined && typeof t.afterPrefix !== "string")) return undefined;
    return { after: t.after, afterPrefix: t.afterPrefix as string | undefined };
  } catch {
    return undefined;
  }
}

/** S3 orders keys by their UTF-8 bytes. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function sortedKeys(bucket: S3Bucket): string[] {
  return [...bucket.objects.keys()].sort(compareKeys);
}

/**
 * The object's bytes and checksums from a PutObject body: plain, or `aws-chunked` (the SDKs'
 * streaming upload, signed or unsigned, with trailing checksums), checked against
 * `x-amz-decoded-content-length`, a hex `x-amz-content-sha256` and every `x-amz-checksum-*`.
 */
function payload(req: IncomingMessage, raw: Buffer): { body: Buffer; checksums: Record<string, string> } {
  const header = (name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(",") : v;
  };
  const contentSha = header("x-amz-content-sha256") ?? "";
  const chunked =
    contentSha.startsWith("STREAMING-") ||
    (header("content-encoding") ?? "")
      .split(",")
      .map((s) => s.trim())
      .includes("aws-chunked");
  const checksums: Record<string, string> = {};
  let body = raw;
  if (chunked) {
    const decoded = decodeAwsChunked(raw);
    body = decoded.body;
    const declared = header("x-amz-decoded-content-length");
    if (declared !== undefined && Number(declared) !== body.length)
      throw new S3Fault(
        "IncompleteBody",
        `The request body terminated unexpectedly: x-amz-decoded-content-length is ${declared}, the chunks hold ${body.length} bytes.`,
      );
    const announced = (header("x-amz-trailer") ?? "")
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    for (const name of announced)
      if (!(name in decoded.trailers))
        throw new S3Fault("MalformedTrailerError", `The request contained trailing data that was not well-formed: ${name} is missing.`);
    for (const [name, value] of Object.entries(decoded.trailers)) if (name.startsWith("x-amz-checksum-")) checksums[name] = value;
  } else if (/^[0-9a-f]{64}$/.test(contentSha) && createHash("sha256").update(raw).digest("hex") !== contentSha) {
    throw new S3Fault("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  for (const [name, value] of Object.entries(req.headers))
    if (
      name.startsWith("x-amz-checksum-") &&
      !["x-amz-checksum-type", "x-amz-checksum-mode", "x-amz-checksum-algorithm"].includes(name) &&
      typeof value === "string"
    )
      checksums[name] = value;
  const verified: Record<string, string> = {};
  for (const [name, value] of Object.entries(checksums)) {
    const algorithm = name.slice("x-amz-checksum-".length).toUpperCase();
    const digest = checksum(algorithm, body);
    if (digest === undefined) throw new S3Fault("InvalidRequest", `Value for x-amz-checksum-algorithm header is invalid: ${algorithm}.`);
    if (digest !== value) throw new S3Fault("BadDigest", `The ${algorithm} you specified did not match the calculated checksum.`);
    verified[algorithm] = value;
  }
  const sdkAlgorithm = header("x-amz-sdk-checksum-algorithm")?.toUpperCase();
  if (sdkAlgorithm && !(sdkAlgorithm in verified))
    throw new S3Fault(
      "InvalidRequest",
      `x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.`,
    );
  return { body, checksums: verified };
}

/**
 * Decodes an `aws-chunked` body: `<hex size>[;chunk-signature=...]\r\n<bytes>\r\n`... then a
 * zero-size chunk, then trailer lines `name:value\r\n` and a blank line. Chunk signatures are
 * not checked (no signature is).
 */
export function decodeAwsChunked(raw: Buffer): { body: Buffer; trailers: Record<string, string> } {
  const parts: Buffer[] = [];
  let at = 0;
  const line = () => {
    const end = raw.indexOf("\r\n", at);
    if (end < 0) throw new S3Fault("IncompleteBody", "The request body terminated unexpectedly (an aws-chunked line has no CRLF).");
    const text = raw.subarray(at, end).toString("latin1");
    at = end + 2;
    return text;
  };
  for (;;) {
    const sizeText = line().split(";")[0].trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new S3Fault("InvalidChunkSizeError", `Invalid chunk size: ${sizeText.slice(0, 20)}`);
    const size = Number.parseInt(sizeText, 16);
    if (size === 0) break;
    if (at + size + 2 > raw.length || raw.subarray(at + size, at + size + 2).toString("latin1") !== "\r\n")
      throw new S3Fault("IncompleteBody", "The request body terminated unexpectedly (an aws-chunked chunk is shorter than its size).");
    parts.push(raw.subarray(at, at + size));
    at += size + 2;
  }
  const trailers: Record<string, string> = {};
  while (at < raw.length) {
    const text = line();
    if (text === "") break;
    const colon = text.indexOf(":");
    if (colon < 0) throw new S3Fault("MalformedTrailerError", "The request contained trailing data that was not well-formed.");
    trailers[text.slice(0, colon).trim().toLowerCase()] = text.slice(colon + 1).trim();
  }
  return { body: Buffer.concat(parts), trailers };
}

/** A checksum as S3 writes it (base64 of the big-endian digest), or undefined for an unknown algorithm. */
export function checksum(algorithm: string, data: Buffer): string | undefined {
  switch (algorithm.toUpperCase()) {
    case "CRC32":
      return uint32(crc32(data));
    case "CRC32C":
      return uint32(crc32c(data));
    case "CRC64NVME": {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(crc64nvme(data));
      return b.toString("base64");
    }
    case "SHA1":
      return createHash("sha1").update(data).digest("base64");
    case "SHA256":
      return createHash("sha256").update(data).digest("base64");
    default:
      return undefined;
  }
}

function uint32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString("base64");
}

let crc32cTable: Uint32Array | undefined;
function crc32c(data: Buffer): number {
  if (!crc32cTable) {
    crc32cTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      crc32cTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of data) crc = crc32cTable[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

let crc64Table: BigUint64Array | undefined;
function crc64nvme(data: Buffer): bigint {
  const mask = 0xffffffffffffffffn;
  if (!crc64Table) {
    crc64Table = new BigUint64Array(256);
    for (let i = 0n; i < 256n; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ 0x9a6c9329ac4bc9b5n : c >> 1n;
      crc64Table[Number(i)] = c;
    }
  }
  let crc = mask;
  for (const byte of data) crc = crc64Table[Number((crc ^ BigInt(byte)) & 0xffn)] ^ (crc >> 8n);
  return (crc ^ mask) & mask;
}

function objectChecksumHeaders(object: S3Object): Record<string, string> {
  return Object.fromEntries(Object.entries(object.checksums).map(([a, v]) => [`x-amz-checksum-${a.toLowerCase()}`, v]));
}

function sseHeader(object: S3Object): Record<string, string> {
  return object.serverSideEncryption ? { "x-amz-server-side-encryption": object.serverSideEncryption } : {};
}

function etagMatches(condition: string, etag: string): boolean {
  return condition
    .split(",")
    .map((s) => s.trim())
    .some((c) => c === "*" || c === etag || `"${c}"` === etag);
}

/** GetObject's conditions: true for 304 Not Modified; throws 412 for a failed If-Match / If-Unmodified-Since. */
function checkPreconditions(object: S3Object, h: (name: string) => string | undefined): boolean {
  const ifMatch = h("if-match");
  if (ifMatch !== undefined && !etagMatches(ifMatch, object.etag)) throw preconditionFailed("If-Match");
  const unmodified = h("if-unmodified-since");
  if (ifMatch === undefined && unmodified !== undefined && object.lastModified.getTime() > Date.parse(unmodified))
    throw preconditionFailed("If-Unmodified-Since");
  const ifNoneMatch = h("if-none-match");
  if (ifNoneMatch !== undefined) return etagMatches(ifNoneMatch, object.etag);
  const modified = h("if-modified-since");
  return modified !== undefined && object.lastModified.getTime() <= Date.parse(modified);
}

/** A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range; undefined to send the whole object. */
function byteRange(header: string, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end)
    throw new S3Fault("InvalidRange", "The requested range is not satisfiable", 416, {
      RangeRequested: header,
      ActualObjectSize: String(size),
    });
  return { start, end };
}

/** Why a bucket name is not valid, or undefined (the general-purpose bucket rules). */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return "a bucket name is 3 to 63 characters long";
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name))
    return "lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit";
  if (name.includes("..")) return "no two adjacent dots";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return "not an IP address";
  return undefined;
}

function x(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}
