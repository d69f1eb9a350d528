// The CMS reader of certified delivery (static/cms.js) under node, on signatures openssl
// makes here: a CA, a sender's certificate it issued, `openssl cms -sign` of a file
// (detached, SHA-256, CAdES, the CA's certificate included) naming the signer by issuer
// and serial number or by subject key identifier. What it reads must be what node reads:
// the message digest is node's SHA-256 of the file, and node verifies the signature over
// the signed attributes it gives with the key it gives. Then everything it must refuse,
// each with its code: every truncation, random bytes and byte changes, indefinite and
// non-minimal lengths, trailing bytes, attached content, no signer or two, the message
// digest missing or twice, other curves, keys and digests. Run by the Rust test
// `cms_js_in_node` (tests/delivery_js.rs); exits non-zero on a failure.

import assert from "node:assert/strict";
import { KeyObject, X509Certificate, createHash, createPublicKey, randomBytes, sign, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { PATH, at, childrenOf, concat, edit, find, oid, tlv, workshop } from "./cms-fixtures.mjs";

const scriptPath = fileURLToPath(new URL("../../static/cms.js", import.meta.url));
vm.runInThisContext(readFileSync(scriptPath, "utf8"), { filename: scriptPath });
const cms = globalThis.sceauCms;
const { parseSignedData, derSignatureToRaw, certificateSpki } = cms;

let checks = 0;
function check(name, actual, expected) {
  assert.deepEqual(actual, expected, name);
  checks++;
}

// `run` throws an Error with the code `code` (and a message matching `message`, if given).
function refuses(name, run, code, message) {
  let thrown = null;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof Error, `${name}: nothing thrown`);
  assert.equal(thrown.code, code, `${name}: ${thrown.stack}`);
  if (message) {
    assert.match(thrown.message, message, name);
  }
  checks++;
  return thrown;
}

const bytes = (buffer) => new Uint8Array(buffer);
const nodeSha256 = (data) => bytes(createHash("sha256").update(data).digest());
const nodeSpki = (certificate) => bytes(new X509Certificate(certificate).publicKey.export({ type: "spki", format: "der" }));
// The signature verified by node (OpenSSL), r || s as IEEE P1363 gives it.
function nodeVerifies(parsed, data = parsed.signedAttributes) {
  const key = createPublicKey({ key: Buffer.from(parsed.spki), format: "der", type: "spki" });
  return verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, parsed.signature);
}

// -- the fixtures -------------------------------------------------------------------------------

const shop = workshop();
const ca = shop.ca("ca");
const sender = shop.certificate("sender", { ca: "ca" });
const content = bytes(randomBytes(10_000));
shop.write("file.bin", content);
const p7s = shop.sign("file.bin", "sender");
const p7sKeyid = shop.sign("file.bin", "sender", { keyid: true, out: "keyid.p7s" });

// -- what a good signature gives ----------------------------------------------------------------

for (const [what, signed, signerIdentifier] of [
  ["by issuer and serial number", p7s, "issuerAndSerialNumber"],
  ["by subject key identifier", p7sKeyid, "subjectKeyIdentifier"],
]) {
  const parsed = parseSignedData(signed);
  check(`${what}: the message digest is node's SHA-256 of the file`, parsed.messageDigest, nodeSha256(content));
  check(`${what}: algorithms and content type`, [parsed.digestAlgorithm, parsed.signatureAlgorithm, parsed.contentType], [
    "2.16.840.1.101.3.4.2.1",
    "1.2.840.10045.4.3.2",
    "1.2.840.113549.1.7.1",
  ]);
  check(`${what}: the signer named`, parsed.signerIdentifier, signerIdentifier);
  check(`${what}: the signer's certificate`, parsed.signerCertificate, sender);
  check(`${what}: every certificate held`, parsed.certificates, [sender, ca]);
  check(`${what}: the signer's key, as node reads it`, parsed.spki, nodeSpki(sender));
  check(`${what}: r || s`, parsed.signature.length, 64);
  check(`${what}: node verifies the signature over the signed attributes given`, nodeVerifies(parsed), true);
  // The signed attributes are the SignedData's bytes, re-tagged as a SET and nothing else.
  const attributes = find(signed, PATH.signedAttributes);
  check(`${what}: [0] in the SignedData`, signed[attributes.offset], 0xa0);
  check(`${what}: SET in what is verified`, parsed.signedAttributes[0], 0x31);
  check(`${what}: the same bytes after the tag`, parsed.signedAttributes.subarray(1), signed.subarray(attributes.offset + 1, attributes.end));
  check(`${what}: and over nothing else`, nodeVerifies(parsed, signed.subarray(attributes.offset, attributes.end)), false);
  // The signature value is the one in the SignerInfo, DER to r || s.
  const value = find(signed, PATH.signature);
  check(`${what}: the signature value`, parsed.signature, derSignatureToRaw(signed.subarray(value.start, value.end)));
  // What is returned is a copy: changing it changes nothing in the input.
  parsed.signedAttributes[1] ^= 1;
  check(`${what}: the input is left as it was`, signed[attributes.offset + 1], parsed.signedAttributes[1] ^ 1);
  check(`${what}: parses the same again`, parseSignedData(signed).messageDigest, nodeSha256(content));
}
check("the global is frozen", Object.isFrozen(cms), true);

// The signer is chosen by its name, wherever it is among the certificates.
{
  const reversed = (signed) => edit(signed, PATH.certificates, (set) => {
    const element = at(set, 0);
    const [first, second] = childrenOf(set, element).map((child) => set.subarray(child.offset, child.end));
    return tlv(0xa0, second, first);
  });
  for (const [what, signed] of [["issuer and serial", p7s], ["key identifier", p7sKeyid]]) {
    const parsed = parseSignedData(reversed(signed));
    check(`${what}: the CA's certificate first`, parsed.certificates, [ca, sender]);
    check(`${what}: the signer is still the sender`, parsed.signerCertificate, sender);
    check(`${what}: verifies`, nodeVerifies(parsed), true);
  }
  // The same certificate twice is the same signer.
  const twice = edit(p7s, PATH.certificates, () => tlv(0xa0, ca, sender, sender));
  check("the sender's certificate twice", parseSignedData(twice).signerCertificate, sender);
  // No certificate of the signer: refused.
  refuses("only the CA's certificate", () => parseSignedData(shop.sign("file.bin", "sender", { nocerts: true, out: "nocerts.p7s" })), "cms_malformed", /no certificate held is the signer's/);
  refuses("no certificates at all", () => parseSignedData(edit(p7s, PATH.certificates, () => [])), "cms_malformed", /no certificate held/);
  // Another certificate of the same CA: not the signer by either name.
  const other = shop.certificate("other", { ca: "ca" });
  refuses("another certificate (issuer and serial)", () => parseSignedData(edit(p7s, PATH.certificates, () => tlv(0xa0, other, ca))), "cms_malformed", /no certificate held/);
  refuses("another certificate (key identifier)", () => parseSignedData(edit(p7sKeyid, PATH.certificates, () => tlv(0xa0, other, ca))), "cms_malformed", /no certificate held/);
  // A different certificate answering to the same issuer and serial number: ambiguous.
  const twin = shop.certificate("twin", { ca: "ca", serialNumber: `0x${new X509Certificate(sender).serialNumber}` });
  check("the twin has the sender's serial", new X509Certificate(twin).serialNumber, new X509Certificate(sender).serialNumber);
  refuses("two certificates by one name", () => parseSignedData(edit(p7s, PATH.certificates, () => tlv(0xa0, sender, twin))), "cms_malformed", /two different certificates/);
  // Certificates of other kinds ([1] attribute certificates, say): refused.
  const withOther = edit(p7s, PATH.certificates, () => tlv(0xa0, tlv(0xa1, Uint8Array.of(5, 0)), sender, ca));
  refuses("another kind of certificate", () => parseSignedData(withOther), "cms_unsupported", /another kind than X\.509/);
}

// An unsigned attribute, a real RFC 3161 token on the signature value (CAdES-T, as sceau
// writes): passed over; the rest reads the same.
{
  const value = find(p7s, PATH.signature);
  const token = shop.timeStampToken(p7s.subarray(value.start, value.end), { ca: "ca" });
  const attribute = tlv(0x30, oid("1.2.840.113549.1.9.16.2.14"), tlv(0x31, token));
  const stamped = edit(p7s, PATH.signature, (signature) => [signature, tlv(0xa1, attribute)]);
  const parsed = parseSignedData(stamped);
  check("time-stamped: the message digest", parsed.messageDigest, nodeSha256(content));
  check("time-stamped: verifies", nodeVerifies(parsed), true);
  check("time-stamped: the same signed attributes", parsed.signedAttributes, parseSignedData(p7s).signedAttributes);
  refuses("two sets of unsigned attributes", () => parseSignedData(edit(stamped, [...PATH.signerInfo, 6], (set) => [set, set])), "cms_malformed", /signer info has bytes past its end/);
}

// -- what is refused ---------------------------------------------------------------------------

// Cut at every length: never read past the end, always a coded refusal.
for (let length = 0; length < p7s.length; length++) {
  refuses(`cut at ${length}`, () => parseSignedData(p7s.subarray(0, length)), "cms_malformed");
}
for (let length = 0; length < p7sKeyid.length; length++) {
  refuses(`key identifier, cut at ${length}`, () => parseSignedData(p7sKeyid.subarray(0, length)), "cms_malformed");
}
// Bytes after the end.
for (const tail of [[0], [0, 0], [0x30, 0], [0xff]]) {
  refuses(`${tail.length} bytes after the end`, () => parseSignedData(concat(p7s, Uint8Array.from(tail))), "cms_malformed", /bytes after it/);
}
// Random bytes, of many lengths, and random bytes after a SEQUENCE header.
for (let i = 0; i < 2000; i++) {
  const noise = bytes(randomBytes(i % 300));
  assert.throws(() => parseSignedData(noise), (error) => ["cms_malformed", "cms_unsupported"].includes(error.code), `noise ${i}`);
  const framed = concat(Uint8Array.of(0x30), Uint8Array.of(0x82, 0x01, 0x2c), bytes(randomBytes(300)));
  assert.throws(() => parseSignedData(framed), (error) => ["cms_malformed", "cms_unsupported"].includes(error.code), `framed noise ${i}`);
  checks += 2;
}
// Each byte changed, one at a time: read, or refused with a code; nothing else thrown.
{
  const outcomes = { parsed: 0, cms_malformed: 0, cms_unsupported: 0 };
  for (const signed of [p7s, p7sKeyid]) {
    for (let offset = 0; offset < signed.length; offset++) {
      for (const change of [0x01, 0x80, 0xff, randomBytes(1)[0] | 1]) {
        const changed = signed.slice();
        changed[offset] ^= change;
        try {
          parseSignedData(changed);
          outcomes.parsed++;
        } catch (error) {
          assert.ok(error.code in outcomes, `byte ${offset} ^ ${change}: ${error.stack}`);
          outcomes[error.code]++;
        }
      }
    }
  }
  assert.ok(outcomes.parsed > 0 && outcomes.cms_malformed > 0 && outcomes.cms_unsupported > 0, JSON.stringify(outcomes));
  checks++;
  console.log(`cms.js: one byte changed at a time: ${JSON.stringify(outcomes)}`);
}

// Lengths: indefinite (BER), in more bytes than needed, past the end.
{
  const whole = at(p7s, 0);
  const body = p7s.subarray(whole.start, whole.end);
  refuses("indefinite length", () => parseSignedData(concat(Uint8Array.of(0x30, 0x80), body, Uint8Array.of(0, 0))), "cms_malformed", /indefinite length/);
  refuses("indefinite length inside", () => parseSignedData(edit(p7s, PATH.signerInfo, (info) => {
    const element = at(info, 0);
    return concat(Uint8Array.of(0x30, 0x80), info.subarray(element.start, element.end), Uint8Array.of(0, 0));
  })), "cms_malformed", /indefinite length/);
  const lengthDigits = [body.length >> 8, body.length & 0xff];
  refuses("a length with a leading zero", () => parseSignedData(concat(Uint8Array.of(0x30, 0x83, 0, ...lengthDigits), body)), "cms_malformed", /leading zero/);
  refuses("a short length in the long form", () => parseSignedData(edit(p7s, PATH.version, () => Uint8Array.of(0x02, 0x81, 0x01, 0x01))), "cms_malformed", /long form/);
  refuses("a length of five bytes", () => parseSignedData(concat(Uint8Array.of(0x30, 0x85, 0, 0, 0, ...lengthDigits), body)), "cms_malformed", /past the end/);
  refuses("a length past the end", () => parseSignedData(concat(Uint8Array.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff), body)), "cms_malformed", /past the end/);
  refuses("a length one too long", () => parseSignedData(concat(Uint8Array.of(0x30, 0x82, (body.length + 1) >> 8, (body.length + 1) & 0xff), body)), "cms_malformed", /past the end/);
  refuses("a tag of several bytes", () => parseSignedData(edit(p7s, PATH.version, () => Uint8Array.of(0x1f, 0x02, 0x01, 0x01))), "cms_malformed", /tag of more than one byte/);
  refuses("a SET for a SEQUENCE", () => parseSignedData(concat(Uint8Array.of(0x31), p7s.subarray(1))), "cms_malformed", /not one ContentInfo/);
}

// Hostile shapes end at once: deep nesting (the reader does not recurse), nothing at all.
{
  const deep = new Uint8Array(2_000_000).fill(0x30);
  for (let i = 1; i < deep.length; i += 2) {
    deep[i] = 0x80;
  }
  refuses("a million indefinite SEQUENCEs", () => parseSignedData(deep), "cms_malformed", /indefinite/);
  let nested = Uint8Array.of(0x05, 0x00);
  for (let i = 0; i < 2000; i++) {
    nested = tlv(0x30, nested);
  }
  refuses("2000 nested SEQUENCEs", () => parseSignedData(nested), "cms_malformed");
  refuses("nothing", () => parseSignedData(new Uint8Array(0)), "cms_malformed");
  assert.throws(() => parseSignedData([0x30, 0x00]), TypeError, "a plain array is not bytes");
  checks++;
}

// Content attached (openssl cms -sign -nodetach): refused, the file is fetched apart.
refuses("attached content", () => parseSignedData(shop.sign("file.bin", "sender", { attached: true, out: "attached.p7s" })), "cms_unsupported", /attached/);
// Other content types, or none signed.
refuses("not a SignedData", () => parseSignedData(edit(p7s, [0], () => oid("1.2.840.113549.1.7.3"))), "cms_unsupported", /not a SignedData/);
refuses("content of another type", () => parseSignedData(edit(p7s, [...PATH.encapsulated, 0], () => oid("1.2.840.113549.1.9.16.1.4"))), "cms_unsupported", /content of type/);

// Signers: none, two.
{
  const signerInfo = find(p7s, PATH.signerInfo);
  const info = p7s.subarray(signerInfo.offset, signerInfo.end);
  refuses("no signer", () => parseSignedData(edit(p7s, PATH.signerInfos, () => tlv(0x31))), "cms_unsupported", /0 signers/);
  refuses("two signers", () => parseSignedData(edit(p7s, PATH.signerInfos, () => tlv(0x31, info, info))), "cms_unsupported", /2 signers/);
}

// Versions and the signer's name: a version that is not its sid's.
check("the SignedData's version is its signer's", [find(p7s, PATH.version), find(p7sKeyid, PATH.version)].map((found, index) => [p7s, p7sKeyid][index][found.start]), [1, 3]);
refuses("a SignedData of version 3 for issuer and serial", () => parseSignedData(edit(p7s, PATH.version, () => Uint8Array.of(2, 1, 3))), "cms_malformed", /version 3 for a signer info of version 1/);
refuses("a SignedData of version 1 for a key identifier", () => parseSignedData(edit(p7sKeyid, PATH.version, () => Uint8Array.of(2, 1, 1))), "cms_malformed", /version 1 for a signer info of version 3/);
refuses("a SignedData of version 2", () => parseSignedData(edit(p7s, PATH.version, () => Uint8Array.of(2, 1, 2))), "cms_malformed", /version 2/);
refuses("signer info version 3 with issuer and serial", () => parseSignedData(edit(p7s, [...PATH.signerInfo, 0], () => Uint8Array.of(2, 1, 3))), "cms_malformed", /tag 0x30 where 0x80/);
refuses("signer info version 1 with a key identifier", () => parseSignedData(edit(p7sKeyid, [...PATH.signerInfo, 0], () => Uint8Array.of(2, 1, 1))), "cms_malformed", /tag 0x80 where 0x30/);
refuses("a negative version", () => parseSignedData(edit(p7s, PATH.version, () => Uint8Array.of(2, 1, 0x81))), "cms_malformed", /version/);

// The signed attributes: the message digest and the content type once each.
{
  const attributes = find(p7s, PATH.signedAttributes);
  const list = childrenOf(p7s, attributes).map((child) => p7s.subarray(child.offset, child.end));
  const typeOf = (attribute) => {
    const [name] = childrenOf(attribute, at(attribute, 0));
    return Buffer.from(attribute.subarray(name.offset, name.end)).toString("hex");
  };
  const MESSAGE_DIGEST = Buffer.from(oid("1.2.840.113549.1.9.4")).toString("hex");
  const CONTENT_TYPE = Buffer.from(oid("1.2.840.113549.1.9.3")).toString("hex");
  const digestAttribute = list.find((attribute) => typeOf(attribute) === MESSAGE_DIGEST);
  const typeAttribute = list.find((attribute) => typeOf(attribute) === CONTENT_TYPE);
  const others = list.filter((attribute) => attribute !== digestAttribute && attribute !== typeAttribute);
  const withAttributes = (...chosen) => edit(p7s, PATH.signedAttributes, () => tlv(0xa0, ...chosen));
  check("the attributes found", [Boolean(digestAttribute), Boolean(typeAttribute), others.length >= 2], [true, true, true]);
  check("all of them, in another order: read", parseSignedData(withAttributes(digestAttribute, ...others, typeAttribute)).messageDigest, nodeSha256(content));
  refuses("no message digest", () => parseSignedData(withAttributes(typeAttribute, ...others)), "cms_malformed", /message digest or the content type is not signed/);
  refuses("the message digest twice", () => parseSignedData(withAttributes(typeAttribute, digestAttribute, digestAttribute, ...others)), "cms_malformed", /message digest is not signed exactly once/);
  const otherDigest = tlv(0x30, oid("1.2.840.113549.1.9.4"), tlv(0x31, tlv(0x04, new Uint8Array(32))));
  refuses("two message digests", () => parseSignedData(withAttributes(typeAttribute, otherDigest, digestAttribute, ...others)), "cms_malformed", /exactly once/);
  const twoValues = tlv(0x30, oid("1.2.840.113549.1.9.4"), tlv(0x31, tlv(0x04, new Uint8Array(32)), tlv(0x04, nodeSha256(content))));
  refuses("one message digest of two values", () => parseSignedData(withAttributes(typeAttribute, twoValues, ...others)), "cms_malformed", /exactly once/);
  const short = tlv(0x30, oid("1.2.840.113549.1.9.4"), tlv(0x31, tlv(0x04, new Uint8Array(31))));
  refuses("a message digest of 31 bytes", () => parseSignedData(withAttributes(typeAttribute, short, ...others)), "cms_malformed", /32 bytes/);
  refuses("no content type", () => parseSignedData(withAttributes(digestAttribute, ...others)), "cms_malformed", /content type is not signed/);
  refuses("the content type twice", () => parseSignedData(withAttributes(typeAttribute, typeAttribute, digestAttribute, ...others)), "cms_malformed", /content type is not signed exactly once/);
  const otherType = tlv(0x30, oid("1.2.840.113549.1.9.3"), tlv(0x31, oid("1.2.840.113549.1.7.2")));
  refuses("another content type signed", () => parseSignedData(withAttributes(otherType, digestAttribute, ...others)), "cms_malformed", /not the content's/);
  refuses("no signed attributes", () => parseSignedData(edit(p7s, PATH.signedAttributes, () => [])), "cms_malformed", /signed attributes/);
}

// Other algorithms, other keys.
{
  shop.certificate("p384", { ca: "ca", kind: "P-384" });
  refuses("a P-384 signer", () => parseSignedData(shop.sign("file.bin", "p384", { out: "p384.p7s" })), "cms_unsupported", /not an ECDSA P-256 key/);
  shop.certificate("rsa", { ca: "ca", kind: "RSA" });
  refuses("an RSA signer", () => parseSignedData(shop.sign("file.bin", "rsa", { out: "rsa.p7s" })), "cms_unsupported", /signature algorithm 1\.2\.840\.113549\.1\.1\.1/);
  refuses("SHA-384", () => parseSignedData(shop.sign("file.bin", "sender", { md: "sha384", out: "sha384.p7s" })), "cms_unsupported", /SHA-256/);
  const sha256WithNull = tlv(0x31, tlv(0x30, oid("2.16.840.1.101.3.4.2.1"), Uint8Array.of(5, 0)));
  check("SHA-256 with NULL parameters is SHA-256", parseSignedData(edit(p7s, PATH.digestAlgorithms, () => sha256WithNull)).digestAlgorithm, "2.16.840.1.101.3.4.2.1");
  const sha256WithOther = tlv(0x31, tlv(0x30, oid("2.16.840.1.101.3.4.2.1"), Uint8Array.of(4, 0)));
  refuses("SHA-256 with parameters", () => parseSignedData(edit(p7s, PATH.digestAlgorithms, () => sha256WithOther)), "cms_unsupported", /not SHA-256/);
  const two = tlv(0x31, tlv(0x30, oid("2.16.840.1.101.3.4.2.1")), tlv(0x30, oid("2.16.840.1.101.3.4.2.2")));
  refuses("two digest algorithms", () => parseSignedData(edit(p7s, PATH.digestAlgorithms, () => two)), "cms_unsupported", /SHA-256 alone/);
  const withParameters = tlv(0x30, oid("1.2.840.10045.4.3.2"), Uint8Array.of(5, 0));
  refuses("ECDSA with parameters", () => parseSignedData(edit(p7s, PATH.signatureAlgorithm, () => withParameters)), "cms_unsupported", /not ECDSA with SHA-256/);
  refuses("ECDSA with SHA-384 named", () => parseSignedData(edit(p7s, PATH.signatureAlgorithm, () => tlv(0x30, oid("1.2.840.10045.4.3.3")))), "cms_unsupported", /1\.2\.840\.10045\.4\.3\.3/);
  refuses("the signer's digest algorithm", () => parseSignedData(edit(p7s, [...PATH.signerInfo, 2], () => tlv(0x30, oid("1.3.14.3.2.26")))), "cms_unsupported", /1\.3\.14\.3\.2\.26, not SHA-256/);
  refuses("an object identifier with a leading zero arc", () => parseSignedData(edit(p7s, [0], () => Uint8Array.of(6, 10, 0x2a, 0x80, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 7, 2))), "cms_malformed", /leading zero/);
  refuses("an object identifier cut short", () => parseSignedData(edit(p7s, [0], () => Uint8Array.of(6, 2, 0x2a, 0x86))), "cms_malformed", /cut short/);
}

// -- the signature value: ECDSA-Sig-Value to r || s ------------------------------------------

{
  const integer = (...content) => tlv(0x02, Uint8Array.from(content));
  const value = (r, s) => tlv(0x30, r, s);
  const r = new Uint8Array(32).fill(0x11);
  const high = new Uint8Array(32).fill(0xee);
  check("r and s of 32 bytes", derSignatureToRaw(value(integer(...r), integer(...r))), concat(r, r));
  check("a leading zero before a high bit is stripped", derSignatureToRaw(value(integer(0, ...high), integer(...r))), concat(high, r));
  check("short integers are left-padded", derSignatureToRaw(value(integer(1), integer(0x7f, 2))), concat(new Uint8Array(31), Uint8Array.of(1), new Uint8Array(30), Uint8Array.of(0x7f, 2)));
  check("zero is zeros", derSignatureToRaw(value(integer(0), integer(1))), concat(new Uint8Array(63), Uint8Array.of(1)));
  check("P-384's 48 bytes", derSignatureToRaw(value(integer(0, ...high, ...high.subarray(0, 16)), integer(5)), 48).length, 96);
  refuses("a negative r", () => derSignatureToRaw(value(integer(0x80), integer(1))), "cms_malformed", /negative/);
  refuses("a needless leading zero", () => derSignatureToRaw(value(integer(0, 0x7f), integer(1))), "cms_malformed", /needless leading zero/);
  refuses("an empty integer", () => derSignatureToRaw(value(integer(), integer(1))), "cms_malformed", /empty/);
  refuses("33 bytes", () => derSignatureToRaw(value(integer(1, ...r), integer(1))), "cms_malformed", /longer than 32/);
  refuses("three integers", () => derSignatureToRaw(value(concat(integer(1), integer(1)), integer(1))), "cms_malformed", /past its end/);
  refuses("one integer", () => derSignatureToRaw(tlv(0x30, integer(1))), "cms_malformed", /cut short/);
  refuses("bytes after", () => derSignatureToRaw(concat(value(integer(1), integer(1)), Uint8Array.of(0))), "cms_malformed", /not one SEQUENCE/);
  refuses("an OCTET STRING for an INTEGER", () => derSignatureToRaw(value(tlv(0x04, r), integer(1))), "cms_malformed", /tag 0x4/);
  // And what node signs, converted, verifies under WebCrypto (which takes r || s only).
  const { privateKey, publicKey } = await globalThis.crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const message = bytes(randomBytes(100));
  for (let i = 0; i < 50; i++) {
    const der = bytes(sign("sha256", message, { key: KeyObject.from(privateKey), dsaEncoding: "der" }));
    const raw = derSignatureToRaw(der);
    const verified = await globalThis.crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, raw, message);
    assert.ok(verified, `signature ${i}`);
  }
  checks++;
}

// -- a certificate's public key ----------------------------------------------------------------

{
  check("the sender's key, as node reads it", certificateSpki(sender), nodeSpki(sender));
  check("the CA's", certificateSpki(ca), nodeSpki(ca));
  const keys = await globalThis.crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const spki = bytes(await globalThis.crypto.subtle.exportKey("spki", keys.publicKey));
  const certified = shop.certify(spki, { ca: "ca" });
  check("a version 1 certificate of a WebCrypto key", certificateSpki(certified), spki);
  check("RSA", certificateSpki(shop.read("rsa.der")), nodeSpki(shop.read("rsa.der")));
  for (let length = 0; length < sender.length; length++) {
    refuses(`a certificate cut at ${length}`, () => certificateSpki(sender.subarray(0, length)), "cms_malformed");
  }
  refuses("a certificate with a byte after", () => certificateSpki(concat(sender, Uint8Array.of(0))), "cms_malformed", /not one SEQUENCE/);
  refuses("a certificate without its signature", () => certificateSpki(edit(sender, [2], () => [])), "cms_malformed", /cut short/);
  refuses("two subject key identifiers", () => certificateSpki(edit(sender, [0, 7, 0, 0], (extension) => [extension, extension])), "cms_malformed", /subject key identifier/);
}

console.log(`cms.js: ${checks} checks passed`);
