/**
 * A self-signed certificate for the sandbox's HTTPS, valid for 127.0.0.1, ::1 and localhost.
 * Clients trust it by passing it as their CA bundle (`--ca-bundle`).
 */
import { generate } from "selfsigned";

export async function selfSignedCertificate(days = 30): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: "commonName", value: "ds-onboard sandbox manager" }], {
    notAfterDate: new Date(Date.now() + days * 86_400_000),
    keyType: "ec",
    curve: "P-256",
    extensions: [
      { name: "basicConstraints", cA: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 7, ip: "127.0.0.1" },
          { type: 7, ip: "::1" },
          { type: 2, value: "localhost" },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
