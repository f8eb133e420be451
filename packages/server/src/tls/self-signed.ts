import { generateKeyPairSync, randomBytes, sign, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A development certificate for localhost (DNS localhost, IP 127.0.0.1 and
 * ::1), made with Node's crypto and the few DER encodings an X.509
 * certificate needs, so that `rill serve --tls-self-signed` depends on no
 * openssl binary.
 */

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const octetString = (content: Buffer) => tlv(0x04, content);
const utf8 = (text: string) => tlv(0x0c, Buffer.from(text, "utf8"));

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split(".").map(Number);
  const bytes = [first! * 40 + second!];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let value = arc; ; value = Math.floor(value / 128)) {
      groups.unshift((value & 0x7f) | (groups.length > 0 ? 0x80 : 0));
      if (value < 128) break;
    }
    bytes.push(...groups);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** A positive INTEGER from big-endian bytes (a leading zero keeps the sign bit clear). */
function integer(bytes: Buffer): Buffer {
  return tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

/** UTCTime up to 2049, GeneralizedTime after, as RFC 5280 requires. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z"; // YYYYMMDDHHMMSSZ
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  subjectAltName: "2.5.29.17",
  extendedKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

export interface GeneratedCertificate {
  cert: string;
  key: string;
}

/** A new self-signed ECDSA P-256 certificate for localhost, valid from a day ago for `days`. */
export function createSelfSignedCertificate(days = 365, now = new Date()): GeneratedCertificate {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const algorithm = sequence(oid(OID.ecdsaWithSha256));
  const name = sequence(set(sequence(oid(OID.commonName), utf8("localhost"))));
  const altNames = sequence(
    tlv(0x82, Buffer.from("localhost")), // dNSName
    tlv(0x87, Buffer.from([127, 0, 0, 1])), // iPAddress
    tlv(0x87, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
  );
  const extensions = sequence(
    sequence(oid(OID.subjectAltName), octetString(altNames)),
    sequence(oid(OID.extendedKeyUsage), octetString(sequence(oid(OID.serverAuth)))),
  );
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))), // version 3
    integer(randomBytes(16)),
    algorithm,
    name,
    sequence(time(new Date(now.getTime() - 86_400_000)), time(new Date(now.getTime() + days * 86_400_000))),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    tlv(0xa3, extensions),
  );
  const signature = sign("sha256", tbs, privateKey); // DER-encoded ECDSA signature
  const der = sequence(tbs, algorithm, tlv(0x03, Buffer.from([0]), signature));
  const base64 = der.toString("base64").replace(/.{1,64}/g, "$&\n");
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${base64}-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

export interface LocalCertificate extends GeneratedCertificate {
  certPath: string;
  keyPath: string;
  /** SHA-256 fingerprint, colon-separated hex (as browsers show it). */
  fingerprint: string;
  /** True when it was made now rather than found in the directory. */
  created: boolean;
}

/**
 * The development certificate kept in `<dir>/tls/`: made on first use and
 * reused afterwards (so a browser exception stays valid), and made again
 * only once it has expired or cannot be read.
 */
export function localCertificate(dir: string, now = new Date()): LocalCertificate {
  const tlsDir = join(dir, "tls");
  const certPath = join(tlsDir, "localhost-cert.pem");
  const keyPath = join(tlsDir, "localhost-key.pem");
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, "utf8");
    const key = readFileSync(keyPath, "utf8");
    try {
      const x509 = new X509Certificate(cert);
      if (new Date(x509.validTo).getTime() > now.getTime() + 86_400_000) {
        return { cert, key, certPath, keyPath, fingerprint: x509.fingerprint256, created: false };
      }
    } catch {
      // unreadable: replaced below
    }
  }
  const generated = createSelfSignedCertificate(365, now);
  mkdirSync(tlsDir, { recursive: true });
  writeFileSync(keyPath, generated.key, { mode: 0o600 });
  chmodSync(keyPath, 0o600);
  writeFileSync(certPath, generated.cert);
  const fingerprint = new X509Certificate(generated.cert).fingerprint256;
  return { ...generated, certPath, keyPath, fingerprint, created: true };
}
