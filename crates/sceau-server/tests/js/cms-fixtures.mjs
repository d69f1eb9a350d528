// What the CMS tests (cms.test.mjs, delivery.test.mjs) sign with and read: keys,
// certificates and detached CMS signatures made at test time with the openssl command
// line, in a directory of their own removed at exit; and a small DER writer and walker,
// written apart from static/cms.js, to take a real signature apart and put it together
// again with one thing changed.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// -- openssl ---------------------------------------------------------------------------------

export function workshop() {
  const directory = mkdtempSync(join(tmpdir(), "sceau-cms-test-"));
  process.on("exit", () => rmSync(directory, { recursive: true, force: true }));
  const path = (name) => join(directory, name);
  const openssl = (...args) => execFileSync("openssl", args, { cwd: directory, stdio: ["ignore", "pipe", "pipe"] });
  const read = (name) => new Uint8Array(readFileSync(path(name)));
  const write = (name, bytes) => writeFileSync(path(name), bytes);
  let serial = 0x1000;

  function key(name, kind) {
    if (kind === "RSA") {
      openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", `${name}.key`);
    } else {
      openssl("genpkey", "-algorithm", "EC", "-pkeyopt", `ec_paramgen_curve:${kind}`, "-out", `${name}.key`);
    }
  }

  function der(name) {
    openssl("x509", "-in", `${name}.pem`, "-outform", "DER", "-out", `${name}.der`);
    return read(`${name}.der`);
  }

  const shop = {
    directory,
    path,
    read,
    write,
    openssl,

    // A self-signed CA certificate (with openssl's subject key identifier); `name`.key and `name`.pem. Its DER.
    ca(name) {
      key(name, "P-256");
      openssl("req", "-x509", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-days", "2", "-out", `${name}.pem`,
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign");
      return der(name);
    },

    // A signer's certificate issued by `ca` (a subject key identifier, a key usage), on a
    // new key of `kind` (P-256 unless said), with `serial` if given. Its DER.
    certificate(name, { ca, kind = "P-256", serialNumber } = {}) {
      key(name, kind);
      openssl("req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`);
      write(`${name}.ext`, "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nkeyUsage=critical,digitalSignature,nonRepudiation\n");
      serial += 1;
      const number = serialNumber || `0x${serial.toString(16)}`;
      openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-set_serial", number,
        "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.pem`);
      return der(name);
    },

    // A certificate issued by `ca` for the public key `spki` (DER), as sceau's withdrawal
    // certificate is: the CA never sees the private key. A version 1 certificate (openssl
    // x509 -new writes no extension), which exercises a tbsCertificate without its
    // optional version.
    certify(spki, { ca, name = "withdrawal" }) {
      const base64 = Buffer.from(spki).toString("base64").replace(/.{64}/g, "$&\n");
      write(`${name}.pub`, `-----BEGIN PUBLIC KEY-----\n${base64}\n-----END PUBLIC KEY-----\n`);
      openssl("x509", "-new", "-force_pubkey", `${name}.pub`, "-subj", `/CN=${name}`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`,
        "-days", "1", "-outform", "DER", "-out", `${name}.der`);
      return read(`${name}.der`);
    },

    // `openssl cms -sign` of the file `file` by `signer` (its certificate and key), SHA-256
    // unless `md` says otherwise, CAdES (signing-certificate-v2), DER, detached unless
    // `attached`; the CA's certificate too (`certfile`), unless null.
    sign(file, signer, { keyid = false, attached = false, md = "sha256", certfile = "ca.pem", nocerts = false, out = `${file}.p7s` } = {}) {
      const args = ["cms", "-sign", "-binary", "-cades", "-md", md, "-in", file, "-signer", `${signer}.pem`, "-inkey", `${signer}.key`,
        "-outform", "DER", "-out", out];
      if (keyid) {
        args.push("-keyid");
      }
      if (attached) {
        args.push("-nodetach");
      }
      if (certfile) {
        args.push("-certfile", certfile);
      }
      if (nocerts) {
        args.push("-nocerts");
      }
      openssl(...args);
      return read(out);
    },

    // An RFC 3161 time-stamp token (a SignedData of its own) on `data`'s SHA-256, as a
    // time-stamp authority issued by `ca` answers.
    timeStampToken(data, { ca }) {
      if (!shop.tsa) {
        key("tsa", "P-256");
        openssl("req", "-new", "-key", "tsa.key", "-subj", "/CN=tsa", "-out", "tsa.csr");
        write("tsa.ext", "extendedKeyUsage=critical,timeStamping\n");
        openssl("x509", "-req", "-in", "tsa.csr", "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-set_serial", "7", "-days", "2",
          "-extfile", "tsa.ext", "-out", "tsa.pem");
        write("tsa.cnf", "[ tsa ]\ndefault_tsa = tsa_config\n[ tsa_config ]\nserial = ./tsa.serial\nsigner_digest = sha256\n" +
          "default_policy = 1.2.3.4\ndigests = sha256\ness_cert_id_alg = sha256\n");
        write("tsa.serial", "01\n");
        shop.tsa = true;
      }
      write("stamped.bin", data);
      openssl("ts", "-query", "-data", "stamped.bin", "-sha256", "-no_nonce", "-out", "stamped.tsq");
      openssl("ts", "-reply", "-config", "tsa.cnf", "-queryfile", "stamped.tsq", "-signer", "tsa.pem", "-inkey", "tsa.key",
        "-token_out", "-out", "stamped.token");
      return read("stamped.token");
    },
  };
  return shop;
}

// -- DER, written apart from cms.js ------------------------------------------------------------

// The element at `at`: its tag, where its contents start and where it ends (definite
// lengths only: what openssl writes).
export function at(bytes, offset) {
  const tag = bytes[offset];
  let length = bytes[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) {
      length = length * 256 + bytes[start + i];
    }
    start += count;
  }
  return { tag, offset, start, end: start + length };
}

export function childrenOf(bytes, parent) {
  const found = [];
  for (let offset = parent.start; offset < parent.end; offset = found.at(-1).end) {
    found.push(at(bytes, offset));
  }
  return found;
}

// The element at `path` (child indices from the outermost element).
export function find(bytes, path) {
  let element = at(bytes, 0);
  for (const index of path) {
    element = childrenOf(bytes, element)[index];
  }
  return element;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function lengthBytes(length) {
  if (length < 0x80) {
    return Uint8Array.of(length);
  }
  const digits = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) {
    digits.unshift(rest % 256);
  }
  return Uint8Array.of(0x80 + digits.length, ...digits);
}

// An element of tag `tag` holding `parts`, in DER.
export function tlv(tag, ...parts) {
  const body = concat(...parts);
  return concat(Uint8Array.of(tag), lengthBytes(body.length), body);
}

// `bytes` with the element at `path` replaced by what `edit` makes of it (its whole
// encoding; an array of encodings, possibly empty, to put several or none in its place),
// every element around it written again with its new length.
export function edit(bytes, path, change) {
  function rebuild(element, rest) {
    if (rest.length === 0) {
      const made = change(bytes.subarray(element.offset, element.end));
      return Array.isArray(made) ? made : [made];
    }
    const parts = childrenOf(bytes, element).flatMap((child, index) =>
      index === rest[0] ? rebuild(child, rest.slice(1)) : [bytes.subarray(child.offset, child.end)],
    );
    return [tlv(element.tag, ...parts)];
  }
  return concat(...rebuild(at(bytes, 0), path));
}

// Where things are in what `openssl cms -sign` writes (detached, certificates included,
// no revocation information): ContentInfo { contentType, [0] { SignedData { version,
// digestAlgorithms, encapContentInfo, [0] certificates, signerInfos { SignerInfo {
// version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature } } } } }
export const PATH = {
  signedData: [1, 0],
  version: [1, 0, 0],
  digestAlgorithms: [1, 0, 1],
  encapsulated: [1, 0, 2],
  certificates: [1, 0, 3],
  signerInfos: [1, 0, 4],
  signerInfo: [1, 0, 4, 0],
  sid: [1, 0, 4, 0, 1],
  signedAttributes: [1, 0, 4, 0, 3],
  signatureAlgorithm: [1, 0, 4, 0, 4],
  signature: [1, 0, 4, 0, 5],
};

// An OBJECT IDENTIFIER's encoding.
export function oid(text) {
  const arcs = text.split(".").map(BigInt);
  const bytes = [];
  for (const arc of [arcs[0] * 40n + arcs[1], ...arcs.slice(2)]) {
    const digits = [Number(arc & 0x7fn)];
    for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) {
      digits.unshift(Number(rest & 0x7fn) | 0x80);
    }
    bytes.push(...digits);
  }
  return tlv(0x06, Uint8Array.from(bytes));
}
