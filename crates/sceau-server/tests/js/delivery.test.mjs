// The recipient's files page of certified delivery (static/delivery.js, after sha256.js
// and cms.js) under node, on signatures openssl makes here. Each file's check: intact
// and signed by the sender, or changed by one byte, signed by another key, another
// certificate given as the sender's, the signed attributes tampered, a signature that
// cannot be read. The statement the answer signs, byte for byte; accepting refused when a
// check failed. The withdrawal and the answer against a fake server that answers as the
// JSON API does (its withdrawal certificate made by openssl for the key sent): the key not
// extractable, the certificate checked to be for it, the signature sent verifying over
// the statement sent, the server's refusals with their code. Then the page itself, on a
// small fake document. Run by the Rust test `delivery_js_in_node` (tests/delivery_js.rs);
// exits non-zero on a failure.

import assert from "node:assert/strict";
import { X509Certificate, createHash, randomBytes, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { PATH, find, workshop } from "./cms-fixtures.mjs";

for (const name of ["sha256.js", "cms.js", "delivery.js"]) {
  const path = fileURLToPath(new URL(`../../static/${name}`, import.meta.url));
  vm.runInThisContext(readFileSync(path, "utf8"), { filename: path });
}
const delivery = globalThis.sceauDelivery;
const { checkFile, statement, DeliveryError, REASONS } = delivery;
const subtle = globalThis.crypto.subtle;

let checks = 0;
function check(name, actual, expected) {
  assert.deepEqual(actual, expected, name);
  checks++;
}

const bytes = (buffer) => new Uint8Array(buffer);
const nodeHex = (data) => createHash("sha256").update(data).digest("hex");
const base64 = (data) => Buffer.from(data).toString("base64");
const utf8 = (text) => new TextEncoder().encode(text);

// -- the fixtures -------------------------------------------------------------------------------

const shop = workshop();
shop.ca("ca");
const sender = shop.certificate("sender", { ca: "ca" });
const other = shop.certificate("other", { ca: "ca" });
// The sender's key certified a second time: the same key, another certificate.
shop.openssl("x509", "-req", "-in", "sender.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "0x77", "-days", "2",
  "-extfile", "sender.ext", "-outform", "DER", "-out", "sender-again.der");
const senderAgain = shop.read("sender-again.der");

// Files as a delivery holds them: each with its .p7s by the sender.
function signedFile(name, content, options = {}) {
  shop.write(name, content);
  return { name, content: bytes(content), p7s: shop.sign(name, options.signer || "sender", { out: `${name}.p7s`, ...options }) };
}
const files = [
  signedFile("empty.bin", new Uint8Array(0)),
  signedFile("contrat.pdf", randomBytes(300_000)),
  signedFile("one.txt", Uint8Array.of(0x61)),
];
const [, big] = files;
const byKeyId = signedFile("keyid.bin", randomBytes(1000), { keyid: true });

const good = (sha256) => ({ sha256, digestMatches: true, signatureValid: true, certificateMatches: true, ok: true, reason: null });

// -- one file's check -----------------------------------------------------------------------------

for (const { name, content, p7s } of [...files, byKeyId]) {
  const progress = [];
  const result = await checkFile({
    file: new Blob([content]),
    p7s,
    senderCertificate: sender,
    onProgress: (done, total) => progress.push([done, total]),
  });
  check(`${name}: intact and signed by the sender`, result, good(nodeHex(content)));
  check(`${name}: the progress ends at the file's size`, progress.at(-1) || [0, 0], [content.length, content.length]);
}
{
  const changed = big.content.slice();
  changed[123_456] ^= 0x20;
  const result = await checkFile({ file: new Blob([changed]), p7s: big.p7s, senderCertificate: sender });
  check("a byte changed", result, {
    sha256: nodeHex(changed),
    digestMatches: false,
    signatureValid: true,
    certificateMatches: true,
    ok: false,
    reason: "the file differs from what was signed",
  });
  const longer = await checkFile({ file: new Blob([big.content, Uint8Array.of(0)]), p7s: big.p7s, senderCertificate: sender });
  check("a byte more", [longer.digestMatches, longer.ok], [false, false]);
}
{
  const byOther = signedFile("by-other.bin", big.content, { signer: "other" });
  const result = await checkFile({ file: new Blob([big.content]), p7s: byOther.p7s, senderCertificate: sender });
  check("signed by another key", result, {
    sha256: nodeHex(big.content),
    digestMatches: true,
    signatureValid: false,
    certificateMatches: false,
    ok: false,
    reason: "signed by another certificate",
  });
  const otherGiven = await checkFile({ file: new Blob([big.content]), p7s: big.p7s, senderCertificate: other });
  check("another certificate given as the sender's", [otherGiven.signatureValid, otherGiven.certificateMatches, otherGiven.reason], [
    false,
    false,
    "signed by another certificate",
  ]);
  // The same key, another certificate: the signature verifies, but the certificate it
  // names is not the one the server gave.
  const again = await checkFile({ file: new Blob([big.content]), p7s: big.p7s, senderCertificate: senderAgain });
  check("the sender's key in another certificate", [again.digestMatches, again.signatureValid, again.certificateMatches, again.ok, again.reason], [
    true,
    true,
    false,
    false,
    "signed by another certificate",
  ]);
}
{
  // The signing time, changed by one digit: the attributes no longer verify.
  const attributes = find(big.p7s, PATH.signedAttributes);
  const tampered = big.p7s.slice();
  let time = -1;
  for (let i = attributes.start; i < attributes.end - 1; i++) {
    if (tampered[i] === 0x17 && tampered[i + 1] === 0x0d) {
      time = i + 2;
    }
  }
  assert.ok(time > 0, "the signing time (UTCTime) is among the signed attributes");
  tampered[time + 11] ^= 1; // the last digit of the seconds
  check("the signed time is still a time", /^\d{12}Z$/.test(Buffer.from(tampered.subarray(time, time + 13)).toString("latin1")), true);
  const result = await checkFile({ file: new Blob([big.content]), p7s: tampered, senderCertificate: sender });
  check("the signing time tampered", [result.digestMatches, result.signatureValid, result.certificateMatches, result.ok, result.reason], [
    true,
    false,
    true,
    false,
    "the signature does not verify",
  ]);
  // The signature value's last byte (the end of s, the last byte of the .p7s).
  const changedSignature = big.p7s.slice();
  changedSignature[changedSignature.length - 1] ^= 1;
  const changed = await checkFile({ file: new Blob([big.content]), p7s: changedSignature, senderCertificate: sender });
  check("the signature value changed", [changed.signatureValid, changed.reason], [false, "the signature does not verify"]);
}
for (const [what, p7s] of [
  ["random bytes", bytes(randomBytes(500))],
  ["nothing", new Uint8Array(0)],
  ["cut short", big.p7s.subarray(0, 700)],
  ["attached content", shop.sign("contrat.pdf", "sender", { attached: true, out: "attached.p7s" })],
]) {
  const result = await checkFile({ file: new Blob([big.content]), p7s, senderCertificate: sender });
  check(`a signature that cannot be read (${what})`, result, {
    sha256: nodeHex(big.content),
    digestMatches: false,
    signatureValid: false,
    certificateMatches: false,
    ok: false,
    reason: "the signature cannot be read",
  });
}
{
  const broken = { size: 10, stream: () => new ReadableStream({ pull: (controller) => controller.error(new Error("gone")) }) };
  const result = await checkFile({ file: broken, p7s: big.p7s, senderCertificate: sender });
  check("a file that cannot be read", [result.sha256, result.ok, result.reason], [null, false, "the file cannot be read"]);
  const garbage = await checkFile({ file: new Blob([big.content]), p7s: big.p7s, senderCertificate: bytes(randomBytes(300)) });
  check("a sender certificate that cannot be read", [garbage.signatureValid, garbage.certificateMatches, garbage.ok], [false, false, false]);
}
check("the reasons", REASONS, {
  unreadable: "the signature cannot be read",
  fileUnreadable: "the file cannot be read",
  certificate: "signed by another certificate",
  digest: "the file differs from what was signed",
  signature: "the signature does not verify",
});

// -- the statement ----------------------------------------------------------------------------------

const passed = (position, sha256) => ({ position, ...good(sha256) });
{
  const text = statement({
    delivery: "dlv_7Qx",
    recipient: 2,
    certificate: "0a1b2c",
    answer: "reject",
    files: [
      { position: 1, sha256: "ab".repeat(32), digestMatches: false, signatureValid: true, certificateMatches: true, ok: false, reason: "x" },
      passed(0, "cd".repeat(32)),
      { position: 2, sha256: null, digestMatches: false, signatureValid: false, certificateMatches: false },
      { position: 3, sha256: "ef".repeat(32), digestMatches: true, signatureValid: true, certificateMatches: false },
    ],
    reason: "Le fichier « 2 » n'est pas \"celui\" annoncé",
  });
  check(
    "a rejection, byte for byte",
    text,
    '{"type":"sceau-delivery-answer/1","delivery":"dlv_7Qx","recipient":2,"certificate":"0a1b2c","answer":"reject",' +
      `"files":[{"position":0,"sha256":"${"cd".repeat(32)}","digest_matches":true,"signature_valid":true},` +
      `{"position":1,"sha256":"${"ab".repeat(32)}","digest_matches":false,"signature_valid":true},` +
      '{"position":2,"sha256":null,"digest_matches":false,"signature_valid":false},' +
      `{"position":3,"sha256":"${"ef".repeat(32)}","digest_matches":true,"signature_valid":false}],` +
      '"reason":"Le fichier « 2 » n\'est pas \\"celui\\" annoncé"}',
  );
  check("its members in order", Object.keys(JSON.parse(text)), ["type", "delivery", "recipient", "certificate", "answer", "files", "reason"]);
  const accepted = {
    delivery: "dlv_7Qx",
    recipient: 0,
    certificate: "0a1b2c",
    answer: "accept",
    files: [passed(0, "00".repeat(32))],
  };
  const expected =
    '{"type":"sceau-delivery-answer/1","delivery":"dlv_7Qx","recipient":0,"certificate":"0a1b2c","answer":"accept",' +
    `"files":[{"position":0,"sha256":"${"00".repeat(32)}","digest_matches":true,"signature_valid":true}]}`;
  check("an acceptance, byte for byte", statement(accepted), expected);
  check("an empty reason is no reason", statement({ ...accepted, reason: "" }), expected);
  check("null is no reason", statement({ ...accepted, reason: null }), expected);
  check("a reason is kept as given", JSON.parse(statement({ ...accepted, reason: " ok " })).reason, " ok ");

  // Accepting what did not pass is refused, whatever failed.
  for (const failed of [
    { digestMatches: false },
    { signatureValid: false },
    { certificateMatches: false },
    { digestMatches: "yes" },
  ]) {
    assert.throws(
      () => statement({ ...accepted, files: [passed(0, "00".repeat(32)), { ...passed(1, "11".repeat(32)), ...failed, ok: true }] }),
      (error) => error instanceof DeliveryError && error.code === "accept_refused",
      JSON.stringify(failed),
    );
    checks++;
  }
  assert.throws(() => statement({ ...accepted, files: [] }), (error) => error.code === "accept_refused", "accepting no file");
  check("rejecting no file is said", JSON.parse(statement({ ...accepted, answer: "reject", files: [] })).files, []);
  checks++;
  for (const [what, changes] of [
    ["a negative recipient", { recipient: -1 }],
    ["a fractional recipient", { recipient: 1.5 }],
    ["a recipient as text", { recipient: "1" }],
    ["an answer of another kind", { answer: "yes" }],
    ["no delivery", { delivery: "" }],
    ["a delivery as a number", { delivery: 7 }],
    ["no certificate", { certificate: undefined }],
    ["a lone surrogate in the reason", { reason: "a\uD800" }],
    ["a reason that is not text", { reason: 1 }],
    ["files that are not a list", { files: "all" }],
    ["a position twice", { answer: "reject", files: [passed(0, "00".repeat(32)), passed(0, "00".repeat(32))] }],
    ["no position", { answer: "reject", files: [{ ...passed(0, "00".repeat(32)), position: undefined }] }],
    ["a digest in upper case", { answer: "reject", files: [passed(0, "AB".repeat(32))] }],
    ["a short digest", { answer: "reject", files: [passed(0, "ab".repeat(31))] }],
  ]) {
    assert.throws(() => statement({ ...accepted, ...changes }), TypeError, what);
    checks++;
  }
}

// -- the withdrawal and the answer, against a fake server ---------------------------------------

const CSRF = "csrf-token-of-the-recipient";
const BASE = "/d/T0KEN";

// A server that answers as the JSON API does and checks what it is sent as the server
// will: the CSRF token on writes; the withdrawal certificate made (by openssl, the CA
// never seeing the private key) for the key sent; files only after the withdrawal; the
// answer's signature under that certificate. `refuse`: {at, answer} for one step (and
// `server.refuse` later);
// `served`: the bytes served for a position instead of the file's own.
function fakeServer({ state = "authenticated", refuse = null, served = {}, certifyAnother = false, failOnce = null } = {}) {
  const server = { calls: [], state, refuse, spki: null, certificate: null, serial: null, statement: null, signature: null, withdrawals: 0 };
  const json = (status, value) => new Response(JSON.stringify(value), { status, headers: { "Content-Type": "application/json" } });
  const refused = (code, message, status = 422) => json(status, { error: { code, message } });
  server.view = () => ({
    delivery: "dlv_0123456789",
    recipient: 3,
    state: server.state,
    deadline: "2026-12-22T00:00:00Z",
    sender: { name: "Étude Martin", certificate: base64(sender) },
    files: files.map((file, position) => ({
      position,
      name: file.name,
      size: file.content.length,
      file: `${BASE}/files/${position}`,
      signature: `${BASE}/files/${position}/signature`,
    })),
    withdrawal: server.serial ? { serial: server.serial, certificate: base64(server.certificate) } : null,
  });
  server.fetch = async (path, init) => {
    server.calls.push({ path, init });
    assert.equal(init.credentials, "same-origin", `${path}: same-origin credentials`);
    assert.equal(init.headers.Accept, "application/json", `${path}: Accept`);
    const step = path === `${BASE}/delivery.json` ? "read" : path.startsWith(`${BASE}/files/`) ? "file" : path.slice(BASE.length + 1);
    if (init.method === "POST" && init.headers["X-CSRF-Token"] !== CSRF) {
      return refused("csrf", "the session's CSRF token is missing", 403);
    }
    if (server.refuse && server.refuse.at === step) {
      return server.refuse.answer();
    }
    if (step === "read") {
      assert.equal(init.method, "GET");
      return json(200, server.view());
    }
    if (step === "withdrawal") {
      assert.equal(init.method, "POST");
      assert.equal(init.headers["Content-Type"], "application/json");
      const body = JSON.parse(init.body);
      assert.deepEqual(Object.keys(body), ["public_key"]);
      server.spki = bytes(Buffer.from(body.public_key, "base64"));
      assert.equal(base64(server.spki), body.public_key, "standard, padded base64");
      server.withdrawals++;
      if (certifyAnother) {
        const { publicKey } = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
        server.certificate = shop.certify(bytes(await subtle.exportKey("spki", publicKey)), { ca: "ca" });
      } else {
        server.certificate = shop.certify(server.spki, { ca: "ca" });
      }
      server.serial = new X509Certificate(server.certificate).serialNumber.toLowerCase();
      server.state = "withdrawn";
      return json(200, { serial: server.serial, certificate: base64(server.certificate) });
    }
    if (step === "file") {
      assert.equal(init.method, "GET");
      if (server.serial === null) {
        return refused("not_withdrawn", "the files are handed over after the withdrawal", 409);
      }
      if (failOnce && path === failOnce) {
        failOnce = null;
        return new Response("<html>Internal error</html>", { status: 500, statusText: "Internal Server Error" });
      }
      const [position, signature] = path.slice(`${BASE}/files/`.length).split("/");
      const file = files[Number(position)];
      const body = signature ? file.p7s : served[position] || file.content;
      return new Response(body, { status: 200, headers: { "Content-Type": "application/octet-stream" } });
    }
    if (step === "answer") {
      assert.equal(init.method, "POST");
      const body = JSON.parse(init.body);
      assert.deepEqual(Object.keys(body), ["statement", "signature"]);
      const signature = bytes(Buffer.from(body.signature, "base64"));
      assert.equal(signature.length, 64, "r || s");
      // Under the withdrawal certificate's key, as the server checks it (OpenSSL here).
      const key = new X509Certificate(server.certificate).publicKey;
      if (!verify("sha256", utf8(body.statement), { key, dsaEncoding: "ieee-p1363" }, signature)) {
        return refused("answer_signature_invalid", "the answer's signature does not verify");
      }
      const said = JSON.parse(body.statement);
      if (said.certificate !== server.serial || said.delivery !== "dlv_0123456789" || said.recipient !== 3) {
        return refused("answer_not_for_this_recipient", "another recipient's answer");
      }
      server.statement = body.statement;
      server.signature = signature;
      server.state = said.answer === "accept" ? "accepted" : "rejected";
      return json(200, { state: server.state });
    }
    return refused("not_found", "no such resource", 404);
  };
  return server;
}

// WebCrypto as the page uses it, with what it was asked and made kept aside.
function watchedSubtle() {
  const watched = { generated: [], keys: null };
  watched.subtle = {
    generateKey: async (...args) => {
      watched.generated.push(args);
      watched.keys = await subtle.generateKey(...args);
      return watched.keys;
    },
    exportKey: (...args) => subtle.exportKey(...args),
    importKey: (...args) => subtle.importKey(...args),
    sign: (...args) => subtle.sign(...args),
    verify: (...args) => subtle.verify(...args),
  };
  return watched;
}

{
  const server = fakeServer();
  const watched = watchedSubtle();
  const withdrawal = await delivery.withdraw({ base: BASE, csrf: CSRF, fetch: server.fetch, subtle: watched.subtle });
  check("the key is made not extractable", watched.generated[0], [{ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]]);
  check("the private key is not extractable", withdrawal.key.privateKey.extractable, false);
  await assert.rejects(subtle.exportKey("pkcs8", withdrawal.key.privateKey));
  await assert.rejects(subtle.exportKey("jwk", withdrawal.key.privateKey));
  checks += 2;
  check("the SubjectPublicKeyInfo sent is the key's", server.spki, bytes(await subtle.exportKey("spki", withdrawal.key.publicKey)));
  check("a P-256 SubjectPublicKeyInfo is 91 bytes", server.spki.length, 91);
  check("the certificate and its serial", [withdrawal.certificate, withdrawal.serial], [server.certificate, server.serial]);

  const results = [];
  for (const [position, file] of files.entries()) {
    results.push({ position, ...(await checkFile({ file: new Blob([file.content]), p7s: file.p7s, senderCertificate: sender })) });
  }
  const answered = await delivery.answer({
    base: BASE,
    csrf: CSRF,
    fetch: server.fetch,
    key: withdrawal.key,
    serial: withdrawal.serial,
    delivery: "dlv_0123456789",
    recipient: 3,
    answer: "accept",
    results,
  });
  check("the server's answer", answered, { state: "accepted" });
  const expected = statement({ delivery: "dlv_0123456789", recipient: 3, certificate: server.serial, answer: "accept", files: results });
  check("the statement sent", server.statement, expected);
  check("it states each file as node hashes it", JSON.parse(server.statement).files.map((file) => file.sha256), files.map((file) => nodeHex(file.content)));
  // The signature sent verifies over the statement's UTF-8 bytes with the key sent, under
  // WebCrypto too; and over nothing else.
  const key = await subtle.importKey("spki", server.spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const algorithm = { name: "ECDSA", hash: "SHA-256" };
  check("the signature verifies", await subtle.verify(algorithm, key, server.signature, utf8(expected)), true);
  check("and over nothing else", await subtle.verify(algorithm, key, server.signature, utf8(expected.replace('"accept"', '"reject"'))), false);
  const post = server.calls.filter(({ init }) => init.method === "POST");
  check("two writes", post.map(({ path }) => path), [`${BASE}/withdrawal`, `${BASE}/answer`]);
  check("each with the CSRF token", post.every(({ init }) => init.headers["X-CSRF-Token"] === CSRF), true);

  // The private key alone signs too; accepting a failed file is refused before anything is sent.
  const again = fakeServer();
  again.certificate = server.certificate;
  again.serial = server.serial;
  const rejected = await delivery.answer({
    base: BASE, csrf: CSRF, fetch: again.fetch, key: withdrawal.key.privateKey, serial: server.serial,
    delivery: "dlv_0123456789", recipient: 3, answer: "reject", results, reason: "changed my mind",
  });
  check("a rejection signed with the private key alone", [rejected, JSON.parse(again.statement).reason], [{ state: "rejected" }, "changed my mind"]);
  const failed = [...results.slice(1), { ...results[0], digestMatches: false }];
  await assert.rejects(
    delivery.answer({ base: BASE, csrf: CSRF, fetch: again.fetch, key: withdrawal.key, serial: server.serial, delivery: "dlv_0123456789", recipient: 3, answer: "accept", results: failed }),
    (error) => error.code === "accept_refused",
  );
  check("nothing sent", again.calls.length, 1);
}

// A certificate for another key than the one sent: refused.
{
  const server = fakeServer({ certifyAnother: true });
  await assert.rejects(
    delivery.withdraw({ base: BASE, csrf: CSRF, fetch: server.fetch }),
    (error) => error instanceof DeliveryError && error.code === "withdrawal_certificate_mismatch",
  );
  checks++;
  for (const [what, answer, code] of [
    ["not a certificate", { serial: "01", certificate: base64(randomBytes(100)) }, "withdrawal_certificate_mismatch"],
    ["not base64", { serial: "01", certificate: "@@@@" }, "bad_answer"],
    ["no certificate", { serial: "01" }, "bad_answer"],
    ["no serial", { certificate: base64(sender) }, "bad_answer"],
  ]) {
    const refusing = fakeServer({ refuse: { at: "withdrawal", answer: () => new Response(JSON.stringify(answer), { status: 200 }) } });
    await assert.rejects(delivery.withdraw({ base: BASE, csrf: CSRF, fetch: refusing.fetch }), (error) => error.code === code, what);
    checks++;
  }
}

// The server's refusals reach the caller with their code, message and status.
for (const [at, answer, code, message, status] of [
  ["withdrawal", () => new Response('{"error":{"code":"already_answered","message":"this delivery was answered"}}', { status: 409 }), "already_answered", "this delivery was answered", 409],
  ["withdrawal", () => new Response('{"error":{"code":"unauthorized","message":"type the code first"}}', { status: 401 }), "unauthorized", "type the code first", 401],
  ["withdrawal", () => new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }), "http_502", "the server answered 502 Bad Gateway", 502],
  ["withdrawal", () => Promise.reject(new TypeError("Failed to fetch")), "network", "the server could not be reached: Failed to fetch", null],
  ["withdrawal", () => new Response("not json", { status: 200 }), "bad_answer", `the server's answer to POST ${BASE}/withdrawal is not JSON`, 200],
]) {
  const server = fakeServer({ refuse: { at, answer } });
  await assert.rejects(delivery.withdraw({ base: BASE, csrf: CSRF, fetch: server.fetch }), (error) => {
    assert.ok(error instanceof DeliveryError, String(error));
    assert.deepEqual([error.code, error.message, error.status], [code, message, status]);
    return true;
  });
  checks++;
}
{
  const server = fakeServer({ refuse: { at: "answer", answer: () => new Response('{"error":{"code":"deadline_passed","message":"too late"}}', { status: 409 }) } });
  const withdrawal = await delivery.withdraw({ base: BASE, csrf: CSRF, fetch: server.fetch });
  await assert.rejects(
    delivery.answer({ base: BASE, csrf: CSRF, fetch: server.fetch, key: withdrawal.key, serial: withdrawal.serial, delivery: "d", recipient: 0, answer: "reject", results: [] }),
    (error) => error instanceof DeliveryError && error.code === "deadline_passed" && error.message === "too late" && error.status === 409,
  );
  checks++;
  const read = await delivery.getDelivery({ base: BASE, fetch: server.fetch });
  check("delivery.json", [read.state, read.files.length, read.withdrawal.serial], ["withdrawn", 3, withdrawal.serial]);
}

// -- the page, on a small fake document ----------------------------------------------------------

class FakeElement {
  constructor(tagName, id = null) {
    Object.assign(this, { tagName, id, children: [], listeners: {}, attributes: {}, textContent: "", disabled: false, value: "" });
    const classes = new Set();
    this.classes = classes;
    this.classList = { add: (...names) => names.forEach((name) => classes.add(name)), remove: (...names) => names.forEach((name) => classes.delete(name)) };
  }
  addEventListener(type, listener) {
    (this.listeners[type] ||= []).push(listener);
  }
  async dispatch(type) {
    for (const listener of this.listeners[type] || []) {
      await listener({ preventDefault() {} });
    }
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }
  getAttribute(name) {
    return this.attributes[name] ?? null;
  }
}

// The files page: #delivery, its buttons, a reason, the outcome, and one row per file
// with its verdict and progress bar. querySelector knows the selectors the page uses.
function fakeDocument(count, { reason = true, lang = null } = {}) {
  const elements = new Map();
  for (const [id, tag] of [
    ["delivery", "section"],
    ["delivery-check", "button"],
    ["delivery-accept", "button"],
    ["delivery-reject", "button"],
    ["delivery-reason", "textarea"],
    ["delivery-outcome", "p"],
  ]) {
    if (id !== "delivery-reason" || reason) {
      elements.set(id, new FakeElement(tag, id));
    }
  }
  elements.get("delivery").setAttribute("data-base", BASE);
  const meta = new FakeElement("meta");
  meta.setAttribute("content", CSRF);
  const rows = Array.from({ length: count }, () => ({ verdict: new FakeElement("span"), progress: new FakeElement("progress") }));
  const selected = [];
  const html = new FakeElement("html");
  if (lang !== null) {
    html.setAttribute("lang", lang);
  }
  return {
    elements,
    rows,
    selected,
    documentElement: html,
    getElementById: (id) => elements.get(id) || null,
    querySelector(selector) {
      selected.push(selector);
      if (selector === 'meta[name="csrf-token"]') {
        return meta;
      }
      const found = /^\[data-file="(\d+)"\] (\.verdict|progress)$/.exec(selector);
      assert.ok(found, `a selector the fake knows: ${selector}`);
      const row = rows[Number(found[1])];
      return row ? row[found[2] === ".verdict" ? "verdict" : "progress"] : null;
    },
  };
}

const buttons = ($) => ["delivery-check", "delivery-accept", "delivery-reject"].map((id) => $(id).disabled);

// Every file intact: checked, accepted.
{
  const document = fakeDocument(files.length);
  const $ = (id) => document.elements.get(id);
  const server = fakeServer();
  const page = delivery.start(document, { fetch: server.fetch });
  check("nothing may be done before delivery.json is read", buttons($), [true, true, true]);
  await page.loaded;
  check("then the files may be checked", buttons($), [false, true, true]);
  check("nothing withdrawn yet", server.withdrawals, 0);
  await $("delivery-check").dispatch("click");
  check("one withdrawal", server.withdrawals, 1);
  check(
    "each file's verdict",
    document.rows.map(({ verdict }) => [verdict.textContent, [...verdict.classes]]),
    files.map((file) => [`Intact, signed by the sender. SHA-256 ${nodeHex(file.content)}`, ["ok"]]),
  );
  check("each progress bar full", document.rows.map(({ progress }) => progress.value === progress.max), [true, true, true]);
  check("the large file's progress in bytes", document.rows[1].progress.max, big.content.length);
  check("accept and reject enabled", buttons($), [true, false, false]);
  check("the outcome", $("delivery-outcome").textContent, "Every file is intact and signed by the sender.");
  await $("delivery-accept").dispatch("click");
  check("accepted", [$("delivery-outcome").textContent, server.state], ["You accepted the delivery. The sender is told.", "accepted"]);
  check("nothing more to do", buttons($), [true, true, true]);
  const said = JSON.parse(server.statement);
  check("the statement", [said.answer, said.recipient, said.certificate, "reason" in said], ["accept", 3, server.serial, false]);
  check("its files", said.files, files.map((file, position) => ({ position, sha256: nodeHex(file.content), digest_matches: true, signature_valid: true })));
  check("every write carried the CSRF token", server.calls.filter(({ init }) => init.method === "POST").every(({ init }) => init.headers["X-CSRF-Token"] === CSRF), true);
  check("files fetched after the withdrawal only", server.calls.findIndex(({ path }) => path.includes("/files/")) > server.calls.findIndex(({ path }) => path.endsWith("/withdrawal")), true);
}

// On a French page (<html lang="fr">) the page's words are French; the statement is the
// same.
{
  const altered = big.content.slice();
  altered[0] ^= 1;
  const document = fakeDocument(files.length, { lang: "fr" });
  const $ = (id) => document.elements.get(id);
  const server = fakeServer({ state: "withdrawn", served: { 1: altered } });
  await delivery.start(document, { fetch: server.fetch }).loaded;
  await $("delivery-check").dispatch("click");
  check("a French verdict", document.rows[0].verdict.textContent, `Intact, signé par l'expéditeur. SHA-256 ${nodeHex(files[0].content)}`);
  check("a French failure", document.rows[1].verdict.textContent, "Échec : le fichier diffère de celui qui a été signé.");
  check("a French outcome", $("delivery-outcome").textContent, "Un fichier n'a pas passé la vérification : vous pouvez refuser l'envoi.");
  await $("delivery-reject").dispatch("click");
  check("refused, in French", [$("delivery-outcome").textContent, server.state], ["Vous avez refusé l'envoi. L'expéditeur en est informé.", "rejected"]);
}

// A file altered in the archive: its verdict says so, the recipient can only reject, with
// a reason; the statement states the digest the browser computed.
{
  const altered = big.content.slice();
  altered[0] ^= 1;
  const document = fakeDocument(files.length);
  const $ = (id) => document.elements.get(id);
  const server = fakeServer({ state: "withdrawn", served: { 1: altered } });
  await delivery.start(document, { fetch: server.fetch }).loaded;
  await $("delivery-check").dispatch("click");
  check("the altered file's verdict", [document.rows[1].verdict.textContent, [...document.rows[1].verdict.classes]], [
    "Failed: the file differs from what was signed.",
    ["failed"],
  ]);
  check("the others pass", [document.rows[0].verdict.classes.has("ok"), document.rows[2].verdict.classes.has("ok")], [true, true]);
  check("only reject", buttons($), [true, true, false]);
  check("the outcome", $("delivery-outcome").textContent, "A file failed its check: you may reject the delivery.");
  await $("delivery-accept").dispatch("click");
  check("a disabled accept does nothing", [server.statement, $("delivery-outcome").textContent], [null, "A file failed its check: you may reject the delivery."]);
  $("delivery-reason").value = "  Le contrat n'est pas celui annoncé.  ";
  await $("delivery-reject").dispatch("click");
  check("rejected", [$("delivery-outcome").textContent, server.state], ["You rejected the delivery. The sender is told.", "rejected"]);
  const said = JSON.parse(server.statement);
  check("the reason, trimmed", said.reason, "Le contrat n'est pas celui annoncé.");
  check("the altered file as computed", said.files[1], { position: 1, sha256: nodeHex(altered), digest_matches: false, signature_valid: true });
}

// A file that could not be fetched: said; it may be fetched again, with the same withdrawal.
{
  const document = fakeDocument(files.length, { reason: false });
  const $ = (id) => document.elements.get(id);
  const server = fakeServer({ failOnce: `${BASE}/files/2/signature` });
  await delivery.start(document, { fetch: server.fetch }).loaded;
  await $("delivery-check").dispatch("click");
  check("the file not fetched", document.rows[2].verdict.textContent, "Failed: the file could not be fetched: the server answered 500 Internal Server Error (http_500).");
  check("check again, or reject", buttons($), [false, true, false]);
  await $("delivery-check").dispatch("click");
  check("fetched the second time", document.rows[2].verdict.classes.has("ok") && !document.rows[2].verdict.classes.has("failed"), true);
  check("the same withdrawal", server.withdrawals, 1);
  check("may accept now", buttons($), [true, false, false]);
  // The server refuses the answer: said, and the buttons come back.
  server.refuse = { at: "answer", answer: () => new Response('{"error":{"code":"deadline_passed","message":"too late"}}', { status: 409 }) };
  await $("delivery-accept").dispatch("click");
  check("the answer refused", $("delivery-outcome").textContent, "Your answer was not recorded: too late (deadline_passed)");
  check("the buttons back", buttons($), [true, false, false]);
  server.refuse = null;
  await $("delivery-accept").dispatch("click");
  check("accepted at the second try", [$("delivery-outcome").textContent, server.state], ["You accepted the delivery. The sender is told.", "accepted"]);
}

// The withdrawal refused: nothing fetched, the check may be tried again.
{
  const document = fakeDocument(files.length);
  const $ = (id) => document.elements.get(id);
  const server = fakeServer({ refuse: { at: "withdrawal", answer: () => new Response('{"error":{"code":"session_expired","message":"type a new code"}}', { status: 401 }) } });
  await delivery.start(document, { fetch: server.fetch }).loaded;
  await $("delivery-check").dispatch("click");
  check("said", $("delivery-outcome").textContent, "The files could not be withdrawn: type a new code (session_expired)");
  check("no file fetched", server.calls.some(({ path }) => path.includes("/files/")), false);
  check("may try again", buttons($), [false, true, true]);
}

// Answered already, or not readable: nothing to check.
for (const [state, outcome] of [
  ["accepted", "You accepted the delivery. The sender is told."],
  ["rejected", "You rejected the delivery. The sender is told."],
  ["expired", "This delivery is expired: its files cannot be withdrawn."],
]) {
  const document = fakeDocument(files.length);
  const $ = (id) => document.elements.get(id);
  const server = fakeServer({ state });
  await delivery.start(document, { fetch: server.fetch }).loaded;
  check(`${state}: said`, $("delivery-outcome").textContent, outcome);
  check(`${state}: nothing to do`, buttons($), [true, true, true]);
  await $("delivery-check").dispatch("click");
  check(`${state}: nothing withdrawn`, server.withdrawals, 0);
}
{
  const document = fakeDocument(1);
  const server = fakeServer({ refuse: { at: "read", answer: () => new Response('{"error":{"code":"unauthorized","message":"type the code first"}}', { status: 401 }) } });
  await delivery.start(document, { fetch: server.fetch }).loaded;
  check("delivery.json refused", document.elements.get("delivery-outcome").textContent, "The delivery could not be read: type the code first (unauthorized)");
  // Positions that are not integers never reach a selector.
  const odd = fakeServer();
  const view = odd.view;
  odd.view = () => ({ ...view(), files: [{ ...view().files[0], position: '0"] *, [x="' }] });
  const oddDocument = fakeDocument(1);
  await delivery.start(oddDocument, { fetch: odd.fetch }).loaded;
  check("files not numbered", oddDocument.elements.get("delivery-outcome").textContent, "The delivery could not be read: the delivery's files are not numbered (bad_answer)");
  check("nothing to check", buttons((id) => oddDocument.elements.get(id)), [true, true, true]);
  const noCertificate = fakeServer();
  noCertificate.view = () => ({ ...view(), sender: { name: "x", certificate: "not base64!" } });
  const noCertificateDocument = fakeDocument(1);
  await delivery.start(noCertificateDocument, { fetch: noCertificate.fetch }).loaded;
  check("a sender certificate not in base64", noCertificateDocument.elements.get("delivery-outcome").textContent, "The delivery could not be read: the server's answer holds bytes that are not in base64 (bad_answer)");
  assert.throws(() => delivery.start({ getElementById: () => null, querySelector: () => null }), /the page has no #delivery/);
  checks++;
}

// What the pages are made of is only ever text, and the globals are frozen.
for (const name of ["cms.js", "delivery.js"]) {
  const source = readFileSync(fileURLToPath(new URL(`../../static/${name}`, import.meta.url)), "utf8");
  for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", 'setAttribute("on']) {
    assert.ok(!source.includes(sink), `${name} uses ${sink}`);
    checks++;
  }
}
check("frozen", [Object.isFrozen(delivery), Object.isFrozen(globalThis.sceauCms)], [true, true]);

console.log(`delivery.js: ${checks} checks passed`);
