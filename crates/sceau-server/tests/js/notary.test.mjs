// The notary's station (static/notary.js) under node: file names judged as the server
// judges them (FileName::parse's own cases, and text.rs's), the manifest written byte for
// byte as the server writes it (Manifest::canonical's test), destinations, limits, and
// the whole flow against a fake server that answers as the JSON API does, with node's
// WebCrypto: the signature sent verifies over the manifest sent with the key sent. Then
// the page itself, on a small fake document. Run by the Rust test `notary_js_in_node`
// (tests/station.rs); exits non-zero on a failure.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

// The scripts as the page runs them, in its order: classic scripts, one global each.
for (const name of ["sha256.js", "notary.js"]) {
  const path = fileURLToPath(new URL(`../../static/${name}`, import.meta.url));
  vm.runInThisContext(readFileSync(path, "utf8"), { filename: path });
}
const notary = globalThis.sceauNotary;
const { checkName, fileNameProblem, canonicalManifest, NotaryError } = notary;
const subtle = globalThis.crypto.subtle;

let checks = 0;
function check(name, actual, expected) {
  assert.deepEqual(actual, expected, name);
  checks++;
}

const nodeHex = (bytes) => createHash("sha256").update(bytes).digest("hex");
const bytesOf = (text) => new TextEncoder().encode(text);
const show = (text) => JSON.stringify(text).replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);

// -- file names --

// FileName::parse's tests (crates/sceau-domain/src/envelope.rs): taken as given.
for (const name of [
  "contrat.pdf",
  "résumé été 2026.txt",
  "l'acte n°12 (copie).pdf",
  "報告書.docx",
  "Отчёт.odt",
  ".profile",
  "a",
  "0-byte file",
  "é".repeat(127) + "x",
  "\u0915\u093C.txt", // KA and NUKTA: NFC (U+0958 is excluded from composition)
  "\uAC00.txt",
  "Le\u00A0Petit\u202FThéâtre.pdf",
  "Café crème × 2, 4.50 €.txt",
  "Children’s book.pdf",
  "Rock 'n' roll.mp3",
  "हिन्दी पुस्तक.pdf",
  "a~b_c=d+e%f#g*h@i&j[k]l!m?n;o:p.txt",
]) {
  check(`${show(name)} is taken`, checkName(name), { ok: true, name, reason: null, message: null });
}
check("the longest name is 255 bytes", bytesOf("é".repeat(127) + "x").length, 255);

// FileName::parse's refusals, each for the same reason, in the server's order.
const refusals = [
  ["", "empty"],
  ["../etc/passwd", "path"],
  ["a/b.pdf", "path"],
  ["a\\b.pdf", "path"],
  ["..", "path"],
  [".", "path"],
  ["new\nline.pdf", "unprintable"],
  ["nul\0.pdf", "unprintable"],
  ["evil\u202Efdp.exe", "unprintable"],
  ["zero\u200Bwidth.pdf", "unprintable"],
  ["say \"yes\".pdf", "quote"],
  ["say \u201Cyes\u201D.pdf", "quote"],
  [" leading.pdf", "spaces"],
  ["trailing.pdf ", "spaces"],
  ["x".repeat(256), "too_long"],
  ["é".repeat(150), "too_long"],
  ["é".repeat(128), "too_long"], // 256 bytes in 128 characters
  // Whitespace is Unicode's White_Space, as Rust's char::is_whitespace: U+0085 is, U+FEFF
  // (which JavaScript's \s holds) is not, and is refused as invisible instead.
  ["\u0085x.pdf", "spaces"],
  ["x.pdf\u3000", "spaces"],
  ["x.pdf\uFEFF", "unprintable"],
  // A path is judged before spaces, spaces before what is printable.
  [" a/b", "path"],
  [" \u202E", "spaces"],
  // Line and paragraph separators (JSON.stringify writes them as they are), a lone
  // surrogate (it would write \ud800), private use, unassigned, tags, wide spaces,
  // blanks, variation selectors.
  ["a\u2028b", "unprintable"],
  ["a\u2029b", "unprintable"],
  ["a\uD800b", "unprintable"],
  ["a\uDC00", "unprintable"],
  ["a\uE000", "unprintable"],
  ["a\u0378", "unprintable"],
  ["a\u{E0041}", "unprintable"],
  ["a\u2003b", "unprintable"],
  ["a\u3164b", "unprintable"],
  ["a\u2800b", "unprintable"],
  ["a\uFE0Fb", "unprintable"],
  ["a\u034Fb", "unprintable"],
  ["a\u0600b", "unprintable"],
  ["a\u{E0100}b", "unprintable"],
];
for (const c of "\0\n\r\t\u007F\u0085\u00AD\u061C\u180E\u200B\u200D\u200E\u200F\u2028\u202A\u202E\u2060\u2066\u2069\uFEFF\uFFF9") {
  refusals.push([`order${c}42.pdf`, "unprintable"]);
}
// Quotation marks and what reads as one: two single ones in a row, primes, CJK
// brackets, ornaments, modifier letters, a combining mark drawn above a space or a letter.
for (const quote of [
  "\"", "«", "»", "‹", "›", "“", "”", "„", "‟", "″", "〃", "＂", "''", "‘’", "’’", "``",
  "\u05F4", "❝", "❞", "⹂", "「", "」", "｢", "｣", "🙶", "ˈˈ", "ꞌꞌ", "׳׳", "'\u0301", " \u030E", "a\u030B",
]) {
  refusals.push([`1 book${quote}. Pay.pdf`, "quote"]);
}
// Nothing outside the few symbols quoted text may hold: a lone backtick, angle brackets,
// braces, a pipe, a caret, a dollar sign is a currency sign (taken), emoji are symbols.
for (const [name, reason] of [
  ["a`b", "quote"],
  ["a<b>", "quote"],
  ["{a}", "quote"],
  ["a|b", "quote"],
  ["a^b", "quote"],
  ["📄 note.txt", "quote"],
]) {
  refusals.push([name, reason]);
}
// The server's words (FileNameError's messages).
const reasons = {
  empty: "a file's name is empty",
  too_long: "a file's name is longer than 255 bytes",
  path: "a file's name holds a / or a \\, or is . or ..",
  spaces: "a file's name begins or ends with a space",
  not_normalized: "a file's name is not in Unicode normalization form C",
  unprintable: "a file's name holds a control, invisible or bidirectional formatting character",
  quote: "a file's name holds a quotation mark or a character shown like one",
};
for (const [name, reason] of refusals) {
  check(`${show(name)}: ${reason}`, fileNameProblem(name), reason);
  const checked = checkName(name);
  check(`${show(name)} is refused by checkName`, [checked.ok, checked.reason], [false, reason]);
  assert.ok(checked.message.startsWith(reasons[reason]), checked.message);
  if (reason === "quote" || reason === "unprintable") {
    assert.match(checked.message, / \(.*U\+[0-9A-F]{4,6}\)$/u, "names the character to rename");
  }
}
// What to rename is said.
check(
  "the character named",
  ["«x».xlsx", "a\u200Bb", "say \u201Cyes\u201D.pdf", "Rock ''n'' roll"].map((name) => checkName(name).message),
  [
    `${reasons.quote} (« U+00AB)`,
    `${reasons.unprintable} (U+200B)`,
    `${reasons.quote} (\u201C U+201C)`,
    `${reasons.quote} (' U+0027)`,
  ],
);
check("a dollar sign is a currency sign", checkName("a$b.txt").ok, true);
// Ordinary Japanese names: the iteration and prolonged sound marks never look like quotes.
for (const name of ["データ.xlsx", "佐々木.pdf", "ｺｰﾋﾞｰ.txt", "山田・報告.odt"]) {
  check(`${name} is a name`, checkName(name).ok, true);
}

// Not NFC: the server refuses it; the station sends it composed.
for (const [given, composed] of [
  ["re\u0301sume\u0301.pdf", "résumé.pdf"],
  ["\u1100\u1161.txt", "\uAC00.txt"],
  ["Cafe\u0301 cre\u0300me.txt", "Café crème.txt"],
]) {
  check(`${show(given)} is not NFC`, fileNameProblem(given), "not_normalized");
  check(`${show(given)} is sent composed`, checkName(given), { ok: true, name: composed, reason: null, message: null });
}
// Bytes are counted in the form that is sent: U+0958 becomes KA and NUKTA, 3 bytes become
// 6, so 85 of them (255 bytes as chosen) are too long once normalized.
{
  const chosen = "\u0958".repeat(85);
  check("85 × U+0958 is 255 bytes", bytesOf(chosen).length, 255);
  check("85 × U+0958 is 510 bytes in NFC", bytesOf(chosen.normalize("NFC")).length, 510);
  check("85 × U+0958 is too long once normalized", checkName(chosen).reason, "too_long");
}

// Every character a name may hold is written by JSON.stringify as itself, as the server's
// RFC 8785 writer writes it (it escapes only controls, " and \, none of which a name
// holds); and every character JSON.stringify would escape is refused in a name.
{
  let taken = 0;
  for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
    const c = String.fromCodePoint(codePoint);
    const name = `a${c}b`;
    const escaped = JSON.stringify(c) !== `"${c}"`;
    if (checkName(name).ok && checkName(name).name === name) {
      taken++;
      assert.ok(!escaped, `U+${codePoint.toString(16)} is taken in a name and escaped by JSON.stringify`);
    } else if (escaped) {
      assert.notEqual(checkName(name).reason, null);
    }
  }
  assert.ok(taken > 100_000, `${taken} characters may be in a name`);
  console.log(`notary.js: ${taken} code points may be in a file's name; JSON.stringify writes each as itself`);
  checks++;
}

// -- destinations (email.rs, phone.rs) --

for (const [typed, expected] of [
  [{ email: "alice@example.org" }, { email: "alice@example.org" }],
  [{ email: " alice.martin+shop@mail.example.org " }, { email: "alice.martin+shop@mail.example.org" }],
  [{ email: "root@localhost" }, { email: "root@localhost" }],
  [{ email: "zoé@exemple.fr" }, { email: "zoé@exemple.fr" }],
  [{ email: "zoe\u0301@exemple.fr" }, { email: "zoé@exemple.fr" }],
  [{ email: "o'brien@xn--exmple-cua.fr" }, { email: "o'brien@xn--exmple-cua.fr" }],
  [{ phone: "+33612345678" }, { phone: "+33612345678" }],
  [{ phone: "+33 6 12-34.56 (78)" }, { phone: "+33612345678" }],
  [{ phone: "+1234567" }, { phone: "+1234567" }],
  [{ email: "bob@example.org", phone: "+33612345678" }, { email: "bob@example.org", phone: "+33612345678" }],
]) {
  check(`destination ${show(typed)}`, notary.checkDestination(typed), { ok: true, destination: expected, reason: null });
}
for (const typed of [
  {},
  { email: "", phone: " " },
  { email: "Alice <alice@example.org>" },
  { email: "alice@example.org, bob@example.org" },
  { email: "alice @example.org" },
  { email: "\"alice\"@example.org" },
  { email: "alice@@example.org" },
  { email: "alice" },
  { email: "@example.org" },
  { email: "alice@" },
  { email: ".alice@example.org" },
  { email: "al..ice@example.org" },
  { email: "alice@-example.org" },
  { email: "alice@example.org." },
  { email: "alice@[127.0.0.1]" },
  { email: `${"x".repeat(65)}@example.org` },
  { email: `${"é".repeat(33)}@example.org` }, // 66 bytes before the @
  { phone: "33612345678" },
  { phone: "+123456" },
  { phone: "+1234567890123456" },
  { phone: "+0612345678" },
  { email: "bob@example.org", phone: "06 12 34 56 78" },
]) {
  const checked = notary.checkDestination(typed);
  check(`destination ${show(typed)} is refused`, checked.ok, false);
  assert.ok(checked.reason.length > 0);
}

// -- the manifest --

// Manifest::canonical's test, byte for byte.
{
  const manifest = canonicalManifest({
    envelope: "env_7Qx",
    certificate: "0a1b",
    files: [
      { name: "résumé.pdf", size: 3, sha256: "ab".repeat(32) },
      { name: "empty", size: 0, sha256: "00".repeat(32) },
    ],
    destinations: [{ email: "bob@example.org", phone: "+33612345678" }, { phone: "+33687654321" }],
  });
  const expected =
    '{"certificate":"0a1b","destinations":[{"email":"bob@example.org",' +
    '"phone":"+33612345678"},{"phone":"+33687654321"}],"envelope":"env_7Qx",' +
    `"files":[{"name":"résumé.pdf","sha256":"${"ab".repeat(32)}","size":3},` +
    `{"name":"empty","sha256":"${"00".repeat(32)}","size":0}],"v":1}`;
  check("the manifest of Manifest::canonical's test", manifest, expected);
  check("its UTF-8 bytes", Buffer.from(bytesOf(manifest)).equals(Buffer.from(expected, "utf8")), true);
  // Members in the order given make no difference: the order is the manifest's.
  const reordered = canonicalManifest({
    files: [{ sha256: "ab".repeat(32), size: 3, name: "résumé.pdf" }, { size: 0, sha256: "00".repeat(32), name: "empty" }],
    destinations: [{ phone: "+33612345678", email: "bob@example.org" }, { phone: "+33687654321" }],
    certificate: "0a1b",
    envelope: "env_7Qx",
  });
  check("members given in another order", reordered, expected);
}

// The escapes test of Manifest::canonical (an id with quotes and a backslash), no
// destinations, non-ASCII names as themselves, the largest exact size.
{
  const manifest = canonicalManifest({
    envelope: 'env_"q"\\',
    certificate: "0a",
    files: [
      { name: "報告書 l'acte n°2 – Отчёт.docx", size: Number.MAX_SAFE_INTEGER, sha256: "0f".repeat(32) },
      { name: "Le\u00A0Petit\u202FThéâtre.pdf", size: 1, sha256: "00".repeat(32) },
    ],
  });
  check(
    "escapes and non-ASCII",
    manifest,
    '{"certificate":"0a","destinations":[],"envelope":"env_\\"q\\"\\\\",' +
      `"files":[{"name":"報告書 l'acte n°2 – Отчёт.docx","sha256":"${"0f".repeat(32)}","size":9007199254740991},` +
      `{"name":"Le\u00A0Petit\u202FThéâtre.pdf","sha256":"${"00".repeat(32)}","size":1}],"v":1}`,
  );
}

// What the server could not have written is refused, not written.
{
  const file = { name: "a.pdf", size: 1, sha256: "00".repeat(32) };
  const manifest = (changes, destinations = []) =>
    canonicalManifest({ envelope: "e", certificate: "0a", files: [{ ...file, ...changes }], destinations });
  for (const [what, changes] of [
    ["a size of 2^53 (not a safe integer: 2^53 + 1 reads the same)", { size: 2 ** 53 }],
    ["a size beyond", { size: 2 ** 64 }],
    ["a negative size", { size: -1 }],
    ["a fractional size", { size: 1.5 }],
    ["a size as text", { size: "1" }],
    ["a size NaN", { size: NaN }],
    ["a digest in upper case", { sha256: "AB".repeat(32) }],
    ["a short digest", { sha256: "00".repeat(31) }],
    ["a name not in NFC", { name: "re\u0301sume\u0301.pdf" }],
    ["a name with a slash", { name: "a/b" }],
    ["a name with U+2028", { name: "a\u2028b" }],
    ["a name with a lone surrogate", { name: "a\uD800" }],
  ]) {
    assert.throws(() => manifest(changes), RangeError, what);
    checks++;
  }
  assert.throws(() => manifest({}, [{}]), RangeError, "an empty destination");
  assert.throws(() => canonicalManifest({ envelope: "e\uD800", certificate: "0a", files: [] }), TypeError);
  assert.throws(() => canonicalManifest({ envelope: 1, certificate: "0a", files: [] }), TypeError);
  checks += 3;
  check("the same, with size 0", manifest({ size: 0 }).includes('"size":0}'), true);
}

// -- limits, lifetime, bytes as text --

{
  const limits = { files_max: 3, file_bytes_max: 100, envelope_bytes_max: 150 };
  const code = (files) => notary.limitsProblem(files, limits)?.code ?? null;
  const f = (name, size) => ({ name, size });
  check("no file", code([]), "no_file");
  check("an empty file is fine", code([f("a", 0)]), null);
  check("too many files", code([f("a", 1), f("b", 1), f("c", 1), f("d", 1)]), "too_many_files");
  check("a file too large", code([f("a", 1), f("b", 101)]), "file_too_large");
  check("exactly the envelope's limit", code([f("a", 100), f("b", 50)]), null);
  check("an envelope too large", code([f("a", 100), f("b", 51)]), "envelope_too_large");
  check("a name twice", code([f("a", 1), f("a", 1)]), "name_twice");
  check("no limits known: names still once", notary.limitsProblem([f("a", 1e12), f("a", 1)])?.code, "name_twice");
  check("lifetime of an empty envelope", notary.lifetimeFor(0), 600);
  check("lifetime of 100 MB", notary.lifetimeFor(100_000_000), 700);
  check("lifetime of 1 GiB", notary.lifetimeFor(2 ** 30), 1674);
  check("lifetime of 2 GiB and more", notary.lifetimeFor(2 ** 32), 3600);
}
for (const length of [0, 1, 2, 3, 4, 5, 64, 91, 0x8000, 0x8001, 100_000]) {
  const bytes = new Uint8Array(randomBytes(length));
  const base64 = notary.toBase64(bytes);
  check(`base64 of ${length} bytes`, base64, Buffer.from(bytes).toString("base64"));
  check(`base64 of ${length} bytes, back`, notary.fromBase64(base64), bytes);
  const hex = notary.toHex(bytes);
  check(`hex of ${length} bytes`, hex, Buffer.from(bytes).toString("hex"));
  check(`hex of ${length} bytes, back`, notary.fromHex(hex), bytes);
}
assert.throws(() => notary.fromHex("abc"), RangeError);
assert.throws(() => notary.fromHex("zz"), RangeError);
checks += 2;

// -- the flow, against a fake server --

const CSRF = "csrf-token-of-the-session";
const SEAL = "12345678";

// RFC 8785 for what a manifest holds (strings, safe integers, arrays, objects), written
// here on its own: members sorted by UTF-16 code units, at every level.
function jcs(value) {
  if (Array.isArray(value)) {
    return `[${value.map(jcs).join(",")}]`;
  }
  if (value !== null && typeof value === "object") {
    const names = Object.keys(value).sort();
    return `{${names.map((name) => `${JSON.stringify(name)}:${jcs(value[name])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

// A server that answers as the JSON API does, and checks what it is sent as the server
// will: the CSRF token on writes, the key, the manifest's form and what it states, the
// signature, each file's bytes. `refuse`: {at: "open" | "manifest" | "file", answer}.
function fakeServer({ refuse = null, limits = { files_max: 20, file_bytes_max: 2 ** 30, envelope_bytes_max: 2 ** 31 } } = {}) {
  const server = { calls: [], key: null, spki: null, manifest: null, signature: null, files: [], state: null, received: [] };
  const id = "0123456789abcdef0123456789abcdef";
  const serial = "1f2e3d4c5b6a";
  const json = (status, value) => new Response(JSON.stringify(value), { status, headers: { "Content-Type": "application/json" } });
  const refused = (code, message, status = 422) => json(status, { error: { code, message } });
  const view = () => ({
    id,
    state: server.state,
    refusal: null,
    certificate_serial: serial,
    certificate_expires_at: "2026-12-07T00:10:00Z",
    created_at: "2026-12-07T00:00:00Z",
    manifest_sha256: server.manifest ? nodeHex(bytesOf(server.manifest)) : null,
    files: server.files.map((file, index) => ({ index, ...file, received: server.received[index] })),
    destinations: server.destinations || [],
    seal_expires_at: null,
    tries_left: server.state === "awaiting_seal" ? server.triesLeft : null,
    notarized_at: null,
    waiting: null,
    container_url: null,
    evidence_url: `/api/v1/envelopes/${id}/evidence`,
  });
  server.fetch = async (path, init) => {
    server.calls.push({ path, init });
    const headers = init.headers;
    if (init.method !== "GET" && headers["X-CSRF-Token"] !== CSRF) {
      return refused("csrf", "the session's CSRF token is missing", 403);
    }
    const [, rest] = path.split("/api/v1/envelopes");
    const step = rest === "" ? "open" : rest.includes("/files/") ? "file" : rest.split("/").slice(2).join("/") || "read";
    if (refuse && refuse.at === step) {
      return refuse.answer();
    }
    if (step === "open") {
      assert.equal(headers["Content-Type"], "application/json");
      const body = JSON.parse(init.body);
      assert.deepEqual(Object.keys(body).sort(), ["lifetime_s", "public_key"]);
      assert.ok(body.lifetime_s >= 60 && body.lifetime_s <= 3600);
      server.spki = notary.fromBase64(body.public_key);
      assert.equal(notary.toBase64(server.spki), body.public_key, "standard, padded base64");
      server.key = await subtle.importKey("spki", server.spki, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
      server.state = "open";
      return json(201, { ...view(), certificate: "MIIBdisposable", limits });
    }
    if (!rest.startsWith(`/${id}`)) {
      return refused("not_found", "no such resource", 404);
    }
    if (step === "manifest") {
      assert.equal(server.state, "open");
      const body = JSON.parse(init.body);
      const signature = notary.fromBase64(body.signature);
      assert.equal(signature.length, 64, "r || s");
      const parsed = JSON.parse(body.manifest);
      if (jcs(parsed) !== body.manifest) {
        return refused("manifest_invalid", "the manifest is not canonical");
      }
      if (parsed.envelope !== id || parsed.certificate !== serial) {
        return refused("manifest_not_for_this_envelope", "another envelope's manifest");
      }
      if (!(await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, server.key, signature, bytesOf(body.manifest)))) {
        return refused("manifest_signature_invalid", "the signature does not verify");
      }
      server.manifest = body.manifest;
      server.signature = signature;
      server.files = parsed.files;
      server.destinations = parsed.destinations;
      server.received = parsed.files.map(() => false);
      server.state = "receiving";
      return json(200, view());
    }
    if (step === "file") {
      assert.equal(init.method, "PUT");
      assert.equal(headers["Content-Type"], "application/octet-stream");
      assert.ok(init.body instanceof Blob, "the file itself is the body, streamed by the browser");
      const index = Number(rest.split("/files/")[1]);
      if (server.received[index]) {
        return refused("file_already_received", "this file arrived already", 409);
      }
      const bytes = new Uint8Array(await init.body.arrayBuffer());
      const expected = server.files[index];
      if (bytes.length !== expected.size) {
        server.state = "refused";
        return refused("file_size_mismatch", `file ${index} is not the size the manifest states`);
      }
      if (nodeHex(bytes) !== expected.sha256) {
        server.state = "refused";
        return refused("file_digest_mismatch", `file ${index} is not the file the manifest states`);
      }
      server.received[index] = true;
      if (server.received.every(Boolean)) {
        server.state = "awaiting_seal";
        server.triesLeft = 3;
      }
      return json(200, view());
    }
    if (step === "seal") {
      const { seal } = JSON.parse(init.body);
      if (seal !== SEAL) {
        server.triesLeft -= 1;
        if (server.triesLeft === 0) {
          server.state = "failed";
          return refused("envelope_failed", "three wrong seals: nothing was signed", 409);
        }
        return refused("wrong_seal", `this is not the seal sent to your phone; ${server.triesLeft} tries left`);
      }
      server.state = "notarized";
      return json(200, view());
    }
    if (step === "seal/resend") {
      return json(200, view());
    }
    return json(200, view());
  };
  return server;
}

// WebCrypto as the station uses it, with what it was asked and made kept aside.
function watchedSubtle() {
  const watched = { generated: [], keys: null };
  watched.subtle = {
    generateKey: async (...args) => {
      watched.generated.push(args);
      watched.keys = await subtle.generateKey(...args);
      return watched.keys;
    },
    exportKey: (...args) => subtle.exportKey(...args),
    sign: (...args) => subtle.sign(...args),
  };
  return watched;
}

function someFiles() {
  const contents = [randomBytes(0), randomBytes(1), randomBytes(3 * 1024 * 1024 + 5), randomBytes(64)];
  const names = ["empty.bin", "re\u0301sume\u0301.pdf", "報告書.docx", "l'acte n°12.txt"];
  return contents.map((bytes, index) => ({ bytes, file: new File([bytes], names[index]) }));
}

// The whole flow: hashed at the station, opened, signed, sent.
{
  const server = fakeServer();
  const watched = watchedSubtle();
  const files = someFiles();
  const progress = [];
  const envelope = await notary.notarize({
    files: files.map(({ file }) => ({ file })),
    destinations: [{ email: " bob@example.org ", phone: "+33 6 12 34 56 78" }, { phone: "+33687654321" }],
    csrf: CSRF,
    fetch: server.fetch,
    subtle: watched.subtle,
    onProgress: (event) => progress.push(event),
  });
  check("the envelope awaits its seal", envelope.state, "awaiting_seal");
  check("every file arrived", envelope.files.map((file) => file.received), [true, true, true, true]);

  // The private key was made not extractable: it cannot leave the station.
  check("the key is made not extractable", watched.generated[0][1], false);
  check("ECDSA P-256", watched.generated[0][0], { name: "ECDSA", namedCurve: "P-256" });
  check("the private key is not extractable", watched.keys.privateKey.extractable, false);
  await assert.rejects(subtle.exportKey("pkcs8", watched.keys.privateKey));
  await assert.rejects(subtle.exportKey("jwk", watched.keys.privateKey));
  checks += 2;
  // The key sent is the station's public key.
  check(
    "the SubjectPublicKeyInfo sent is the station's",
    server.spki,
    new Uint8Array(await subtle.exportKey("spki", watched.keys.publicKey)),
  );
  check("a P-256 SubjectPublicKeyInfo is 91 bytes", server.spki.length, 91);

  // The manifest sent: canonical, stating each file as node hashes it, in order, NFC.
  const expected = jcs({
    certificate: "1f2e3d4c5b6a",
    destinations: [{ email: "bob@example.org", phone: "+33612345678" }, { phone: "+33687654321" }],
    envelope: "0123456789abcdef0123456789abcdef",
    files: files.map(({ bytes, file }) => ({ name: file.name.normalize("NFC"), sha256: nodeHex(bytes), size: bytes.length })),
    v: 1,
  });
  check("the manifest sent", server.manifest, expected);
  check("the name sent is NFC", JSON.parse(server.manifest).files[1].name, "résumé.pdf");
  // And its signature verifies over its UTF-8 bytes with the key sent (the fake server
  // verified it already; once more here, with a key imported from the bytes sent alone).
  const key = await subtle.importKey("spki", server.spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  check("the signature verifies", await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, server.signature, bytesOf(expected)), true);
  const tampered = bytesOf(expected.replace('"v":1', '"v":2'));
  check("and over nothing else", await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, server.signature, tampered), false);

  // The calls, in order, each write with the session's CSRF token.
  check(
    "the calls",
    server.calls.map(({ path, init }) => `${init.method} ${path}`),
    [
      "POST /api/v1/envelopes",
      "POST /api/v1/envelopes/0123456789abcdef0123456789abcdef/manifest",
      ...files.map((_, index) => `PUT /api/v1/envelopes/0123456789abcdef0123456789abcdef/files/${index}`),
    ],
  );
  check("each file's body is the file itself", server.calls.slice(2).map(({ init }) => init.body), files.map(({ file }) => file));
  check("the same origin's cookie goes along", server.calls.every(({ init }) => init.credentials === "same-origin"), true);
  const total = files.reduce((sum, { bytes }) => sum + bytes.length, 0);
  check("the lifetime asked for", JSON.parse(server.calls[0].init.body).lifetime_s, notary.lifetimeFor(total));

  // Progress: the files hashed first, nothing sent before every digest is known.
  const steps = [...new Set(progress.map((event) => event.step))];
  check("the steps, in order", steps, ["hash", "key", "open", "sign", "manifest", "upload"]);
  const hashed = progress.filter((event) => event.step === "hash");
  assert.ok(hashed.every((event, i) => i === 0 || event.done >= hashed[i - 1].done), "hashing goes forward");
  check("hashing ends at the total", hashed.at(-1).done, total);
  check("sending ends at the total", progress.at(-1), { step: "upload", index: 4, count: 4, done: total, total });

  // The seal.
  await assert.rejects(
    notary.sendSeal({ id: envelope.id, seal: "00000000", csrf: CSRF, fetch: server.fetch }),
    (error) =>
      error instanceof NotaryError &&
      error.code === "wrong_seal" &&
      error.status === 422 &&
      error.message === "this is not the seal sent to your phone; 2 tries left",
  );
  checks++;
  const sealed = await notary.sendSeal({ id: envelope.id, seal: ` ${SEAL} `, csrf: CSRF, fetch: server.fetch });
  check("the right seal notarizes", sealed.state, "notarized");
  const sealCall = server.calls.at(-1);
  check("the seal is posted as JSON", [sealCall.init.method, sealCall.path, sealCall.init.body], [
    "POST",
    `/api/v1/envelopes/${envelope.id}/seal`,
    JSON.stringify({ seal: SEAL }),
  ]);
  check("with the CSRF token", sealCall.init.headers["X-CSRF-Token"], CSRF);
}

// Digests computed already (on the page, before sending) are used as they are: a file
// that changed since is refused by the server, and the refusal reaches the caller.
{
  const server = fakeServer();
  const bytes = randomBytes(100);
  const file = new File([bytes], "a.bin");
  const progress = [];
  await assert.rejects(
    notary.notarize({
      files: [{ file, sha256: "00".repeat(32) }],
      csrf: CSRF,
      fetch: server.fetch,
      onProgress: (event) => progress.push(event.step),
    }),
    (error) =>
      error instanceof NotaryError &&
      error.code === "file_digest_mismatch" &&
      error.status === 422 &&
      error.message === "file 0 is not the file the manifest states" &&
      error.envelopeId === "0123456789abcdef0123456789abcdef",
  );
  check("the digest given was not computed again", progress.includes("hash"), false);
  check("the envelope is refused", server.state, "refused");
}

// The server's refusals reach the caller with their code, message and status.
for (const [at, answer, code, message, status] of [
  ["manifest", () => new Response('{"error":{"code":"manifest_signature_invalid","message":"no"}}', { status: 422 }), "manifest_signature_invalid", "no", 422],
  ["open", () => new Response('{"error":{"code":"unauthorized","message":"sign in"}}', { status: 401 }), "unauthorized", "sign in", 401],
  ["open", () => new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }), "http_502", "the server answered 502 Bad Gateway", 502],
  ["file", () => Promise.reject(new TypeError("Failed to fetch")), "network", "the server could not be reached: Failed to fetch", null],
  ["open", () => new Response("not json", { status: 201 }), "bad_answer", "the server's answer to POST /api/v1/envelopes is not JSON", 201],
]) {
  const server = fakeServer({ refuse: { at, answer } });
  await assert.rejects(
    notary.notarize({ files: [{ file: new File(["x"], "x.txt") }], csrf: CSRF, fetch: server.fetch }),
    (error) => {
      assert.ok(error instanceof NotaryError, String(error));
      assert.deepEqual([error.code, error.message, error.status], [code, message, status]);
      assert.equal(error.envelopeId, at === "open" ? null : "0123456789abcdef0123456789abcdef");
      return true;
    },
  );
  checks++;
}

// What the station refuses itself, before anything is sent (or, for the server's
// limits, before the manifest is).
for (const [what, options, code, callsExpected] of [
  ["no file", { files: [] }, "no_file", 0],
  ["a name with a slash", { files: [{ file: new File(["x"], "x"), name: "a/b" }] }, "invalid_name", 0],
  ["a name twice", { files: [{ file: new File(["x"], "a") }, { file: new File(["y"], "a") }] }, "name_twice", 0],
  ["the same name, composed or not", { files: [{ file: new File(["x"], "é") }, { file: new File(["y"], "e\u0301") }] }, "name_twice", 0],
  ["a destination with neither", { files: [{ file: new File(["x"], "a") }], destinations: [{ email: " " }] }, "invalid_destination", 0],
  ["a bad phone", { files: [{ file: new File(["x"], "a") }], destinations: [{ phone: "0612345678" }] }, "invalid_destination", 0],
  ["21 destinations", { files: [{ file: new File(["x"], "a") }], destinations: Array(21).fill({ phone: "+33612345678" }) }, "too_many_destinations", 0],
  ["the page's limits", { files: [{ file: new File(["xy"], "a") }], limits: { file_bytes_max: 1 } }, "file_too_large", 0],
  ["the server's limits", { files: [{ file: new File(["x"], "a") }, { file: new File(["y"], "b") }], server: { files_max: 1 } }, "too_many_files", 1],
]) {
  const server = fakeServer(options.server ? { limits: options.server } : {});
  await assert.rejects(
    notary.notarize({ csrf: CSRF, fetch: server.fetch, ...options }),
    (error) => error instanceof NotaryError && error.code === code && error.status === null,
    what,
  );
  check(`${what}: calls made`, server.calls.length, callsExpected);
}

// -- the page, on a small fake document --

// Just what start() uses of the DOM: elements with children, attributes, listeners.
class FakeElement {
  constructor(tagName, id = null) {
    Object.assign(this, { tagName, id, children: [], parent: null, listeners: {}, attributes: {} });
    Object.assign(this, { textContent: "", hidden: false, disabled: false, value: "", files: [], className: "", type: "" });
  }
  addEventListener(type, listener) {
    (this.listeners[type] ||= []).push(listener);
  }
  async dispatch(type, event = {}) {
    for (const listener of this.listeners[type] || []) {
      await listener({ preventDefault() {}, ...event });
    }
  }
  append(...nodes) {
    for (const node of nodes) {
      node.parent = this;
      this.children.push(node);
    }
  }
  replaceChildren(...nodes) {
    this.children = [];
    this.append(...nodes);
  }
  remove() {
    this.parent.children = this.parent.children.filter((child) => child !== this);
  }
  get lastChild() {
    return this.children.at(-1);
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }
  getAttribute(name) {
    return this.attributes[name] ?? null;
  }
  focus() {}
  // The text shown: its own, then its children's.
  get text() {
    return [this.textContent, ...this.children.map((child) => child.text)].filter(Boolean).join(" | ");
  }
  find(predicate) {
    return this.children.flatMap((child) => (predicate(child) ? [child] : child.find(predicate)));
  }
}

function fakeDocument() {
  const elements = new Map();
  for (const [id, tag] of [
    ["notary", "section"],
    ["notary-files-input", "input"],
    ["notary-files", "tbody"],
    ["notary-destinations", "div"],
    ["notary-add-destination", "button"],
    ["notary-send", "button"],
    ["notary-status", "p"],
    ["notary-progress", "progress"],
    ["notary-error", "p"],
    ["notary-seal-form", "form"],
    ["notary-seal", "input"],
    ["notary-seal-resend", "button"],
    ["notary-result", "p"],
    ["notary-envelope-link", "a"],
  ]) {
    elements.set(id, new FakeElement(tag, id));
  }
  const meta = new FakeElement("meta");
  meta.setAttribute("content", CSRF);
  return {
    elements,
    getElementById: (id) => elements.get(id) || null,
    createElement: (tag) => new FakeElement(tag),
    querySelector: (selector) => (selector === 'meta[name="csrf-token"]' ? meta : null),
  };
}

async function until(what, condition) {
  for (let i = 0; i < 10_000; i++) {
    if (condition()) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.fail(`waited in vain: ${what}`);
}

{
  const document = fakeDocument();
  const $ = (id) => document.elements.get(id);
  $("notary").setAttribute("data-files-max", "3");
  const server = fakeServer();
  notary.start(document, { fetch: server.fetch });
  check("nothing to send yet", [$("notary-send").disabled, $("notary-status").textContent], [true, "choose the files to send"]);
  check("the seal's form waits", $("notary-seal-form").hidden, true);

  // Files chosen one by one, then two at once; one removed.
  const files = someFiles();
  const choose = async (...chosen) => {
    $("notary-files-input").files = chosen;
    $("notary-files-input").value = "C:\\fakepath\\x";
    await $("notary-files-input").dispatch("change");
  };
  await choose(files[0].file);
  check("the field is emptied for the next file", $("notary-files-input").value, "");
  await choose(files[1].file, files[2].file);
  await choose(new File(["?"], "say \u201Cyes\u201D.pdf"));
  const rows = () => $("notary-files").children.map((row) => row.children.map((cell) => cell.textContent));
  check("four files listed", rows().length, 4);
  await until("the files are hashed", () => rows().slice(0, 3).every((row) => /^[0-9a-f]{64}$/.test(row[2])));
  check(
    "each file's name, size and SHA-256, shown before anything is sent",
    rows().slice(0, 3),
    files.slice(0, 3).map(({ bytes, file }) => [
      file.name.normalize("NFC"),
      `${bytes.length.toLocaleString("en")} byte${bytes.length === 1 ? "" : "s"}`,
      nodeHex(bytes),
      "",
    ]),
  );
  check("a refused name says why", rows()[3][2], `${reasons.quote} (\u201C U+201C)`);
  check("nothing sent while hashing", server.calls.length, 0);
  check("not sendable with a refused name", $("notary-send").disabled, true);
  const removeButton = (index) => $("notary-files").children[index].lastChild.children[0];
  await removeButton(3).dispatch("click");
  check("three files listed", rows().length, 3);
  check("sendable now", [$("notary-send").disabled, $("notary-status").textContent], [false, "3 files ready to send"]);
  await choose(files[3].file);
  check("the page's limit of 3 files", [$("notary-send").disabled, $("notary-status").textContent], [true, "an envelope holds at most 3 files"]);
  await until("hashed", () => rows()[3][2].length === 64);
  await removeButton(0).dispatch("click");
  await until("sendable again", () => !$("notary-send").disabled);

  // A destination, typed with spaces: written back as it is signed.
  await $("notary-add-destination").dispatch("click");
  await $("notary-add-destination").dispatch("click");
  const [first, second] = $("notary-destinations").children;
  first.children[0].value = "bob@example.org";
  first.children[1].value = "+33 6 12 34 56 78";
  second.children[1].value = "0612";
  await $("notary-send").dispatch("click");
  check("a wrong destination keeps the envelope", server.calls.length, 0);
  check("and says why", second.children[3].textContent, "0612 is not an international phone number (+33612345678)");
  check("the error", $("notary-error").hidden, false);
  await second.children[2].dispatch("click");
  check("one destination left", $("notary-destinations").children.length, 1);

  await $("notary-send").dispatch("click");
  check("the phone as it is signed", first.children[1].value, "+33612345678");
  check("no error", $("notary-error").hidden, true);
  check("the status", $("notary-status").textContent, "Every file arrived. Type the seal sent to your phone.");
  check("the seal's form", $("notary-seal-form").hidden, false);
  check("the envelope's page", [$("notary-result").hidden, $("notary-envelope-link").href], [false, "/wallet/envelopes/0123456789abcdef0123456789abcdef"]);
  check("nothing more to send", [$("notary-send").disabled, $("notary-files-input").disabled], [true, true]);
  check("the files sent", JSON.parse(server.manifest).files.map((file) => file.name), ["résumé.pdf", "報告書.docx", "l'acte n°12.txt"]);
  check("the destinations sent", JSON.parse(server.manifest).destinations, [{ email: "bob@example.org", phone: "+33612345678" }]);
  check("the progress bar full", [$("notary-progress").value, $("notary-progress").max], [$("notary-progress").max, files.slice(1).reduce((sum, { bytes }) => sum + bytes.length, 0)]);

  // A wrong seal, then the right one.
  $("notary-seal").value = "11111111";
  await $("notary-seal-form").dispatch("submit");
  check("a wrong seal says so", $("notary-error").textContent, "this is not the seal sent to your phone; 2 tries left (wrong_seal)");
  check("and the form stays", $("notary-seal-form").hidden, false);
  await $("notary-seal-resend").dispatch("click");
  check("a new seal", $("notary-status").textContent, "A new seal was sent to your phone; the previous one is void.");
  $("notary-seal").value = SEAL;
  await $("notary-seal-form").dispatch("submit");
  check("notarized", [$("notary-status").textContent, $("notary-seal-form").hidden, $("notary-error").hidden], [
    "Notarized: every file is signed, time-stamped and archived.",
    true,
    true,
  ]);
  check("the seal is wiped from its field", $("notary-seal").value, "");
  check("every write carried the CSRF token", server.calls.filter(({ init }) => init.method !== "GET").every(({ init }) => init.headers["X-CSRF-Token"] === CSRF), true);
}

// Three wrong seals: the form goes, the page says the envelope failed.
{
  const document = fakeDocument();
  const $ = (id) => document.elements.get(id);
  const server = fakeServer();
  notary.start(document, { fetch: server.fetch });
  $("notary-files-input").files = [new File(["x"], "x.txt")];
  await $("notary-files-input").dispatch("change");
  await until("sendable", () => !$("notary-send").disabled);
  await $("notary-send").dispatch("click");
  for (let i = 0; i < 3; i++) {
    $("notary-seal").value = "99999999";
    await $("notary-seal-form").dispatch("submit");
  }
  check("failed", [$("notary-error").textContent, $("notary-seal-form").hidden, $("notary-status").textContent], [
    "three wrong seals: nothing was signed (envelope_failed)",
    true,
    "The envelope is failed.",
  ]);
}

// A refusal while sending: said, with a link to the envelope, and the page may try again.
{
  const document = fakeDocument();
  const $ = (id) => document.elements.get(id);
  const server = fakeServer({
    refuse: { at: "manifest", answer: () => new Response('{"error":{"code":"certificate_unusable","message":"the certificate is revoked"}}', { status: 422 }) },
  });
  notary.start(document, { fetch: server.fetch });
  $("notary-files-input").files = [new File(["x"], "x.txt")];
  await $("notary-files-input").dispatch("change");
  await until("sendable", () => !$("notary-send").disabled);
  await $("notary-send").dispatch("click");
  check("the refusal", [$("notary-error").textContent, $("notary-status").textContent], [
    "the certificate is revoked (certificate_unusable)",
    "Nothing was notarized.",
  ]);
  check("the envelope's page", $("notary-result").hidden, false);
  check("may send again", $("notary-send").disabled, false);
}

// The page's user data is only ever text: no element is made from it.
{
  const source = readFileSync(fileURLToPath(new URL("../../static/notary.js", import.meta.url)), "utf8");
  for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute(\"on"]) {
    assert.ok(!source.includes(sink), `notary.js uses ${sink}`);
    checks++;
  }
}

console.log(`notary.js: ${checks} checks passed`);
