// The notary's station: the program of the page that sends an envelope
// (/wallet/envelopes/new). The files are hashed where they are, before anything is sent;
// the station makes a key of its own that never leaves the browser, signs the manifest
// (the envelope as it saw it) with it, then sends the files; the seal sent to the
// client's phone closes the envelope.
//
// A classic script, loaded after sha256.js (for the reason written there: Subresource
// Integrity covers exactly the scripts a page names). It defines one global,
// `sceauNotary`, and wires the page when the page has the element `#notary`:
//
//   sceauNotary.checkName(name)          // {ok, name (NFC), reason, message}
//   sceauNotary.canonicalManifest({envelope, certificate, files, destinations})  // string
//   await sceauNotary.notarize({files, destinations, csrf})      // the envelope's JSON
//   await sceauNotary.sendSeal({id, seal, csrf})                 // the envelope's JSON
//
// The rules mirror the server's (crates/sceau-domain: envelope.rs, text.rs, email.rs,
// phone.rs), so that a station never sends what the server would refuse; the server
// checks everything again.
"use strict";

(function () {
  const FILE_NAME_BYTES_MAX = 255;
  const MANIFEST_VERSION = 1;
  const DESTINATIONS_MAX = 20;
  const EMAIL_BYTES_MAX = 254;
  const EMAIL_LOCAL_BYTES_MAX = 64;
  // The disposable certificate's life, in seconds: the server's default, and what it
  // allows at most. The manifest and every file must be in before it ends.
  const LIFETIME_S_DEFAULT = 600;
  const LIFETIME_S_MAX = 3600;
  // The slowest upload a lifetime is chosen for: 1 MB per second.
  const UPLOAD_BYTES_PER_S_MIN = 1_000_000;
  const API = "/api/v1/envelopes";

  const utf8 = new TextEncoder();

  // -- file names (FileName::parse, and TextRule::quoted of text.rs) -----------------------

  const REASONS = {
    empty: "a file's name is empty",
    too_long: `a file's name is longer than ${FILE_NAME_BYTES_MAX} bytes`,
    path: "a file's name holds a / or a \\, or is . or ..",
    spaces: "a file's name begins or ends with a space",
    not_normalized: "a file's name is not in Unicode normalization form C",
    unprintable: "a file's name holds a control, invisible or bidirectional formatting character",
    quote: "a file's name holds a quotation mark or a character shown like one",
  };

  // Control, format, private use, unassigned, surrogate, line and paragraph separator;
  // the invisible and bidirectional characters text.rs names (most are format characters
  // already: named so that an older table still refuses them); spaces other than the
  // plain and no-break ones; letters and marks that show as nothing.
  const UNPRINTABLE_CATEGORY = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}]/u;
  const INVISIBLE =
    /[\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB]/u;
  const ALLOWED_SPACES = " \u00A0\u202F";
  const BLANK =
    /[\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180F\u2800\u3164\uFE00-\uFE0F\uFFA0\u{E0100}-\u{E01EF}]/u;

  function unprintable(c) {
    return (
      UNPRINTABLE_CATEGORY.test(c) ||
      INVISIBLE.test(c) ||
      (/\p{Zs}/u.test(c) && !ALLOWED_SPACES.includes(c)) ||
      BLANK.test(c)
    );
  }

  // What text quoted in the seal's SMS may hold: letters, digits, currency signs, the
  // marks of scripts that need them (not the generic diacritics, which NFC text never
  // needs and which can draw a quotation mark over a space), and a few other characters.
  const QUOTABLE_CATEGORY = /[\p{Lu}\p{Ll}\p{Lt}\p{Lo}\p{Nd}\p{Nl}\p{No}\p{Sc}]/u;
  const MARK = /[\p{Mn}\p{Mc}]/u;
  const GENERIC_MARK = /[\u0300-\u036F\u1AB0-\u1AFF\u1DC0-\u1DFF\u20D0-\u20FF\uFE20-\uFE2F]/u;
  const QUOTABLE_OTHER =
    " \u00A0\u202F.,;:!?-\u2013\u2014()[]/&+%#*@_='\u2019\u00B7\u2022\u00D7\u00B0\u00A7~" +
    // Japanese marks that never look like a quotation mark (as text.rs says).
    "\u3005\u309D\u309E\u30FB\u30FC\u30FD\u30FE\uFF70\uFF9E\uFF9F";

  function quotable(c) {
    if (QUOTABLE_CATEGORY.test(c)) {
      return true;
    }
    if (MARK.test(c)) {
      return !GENERIC_MARK.test(c);
    }
    return QUOTABLE_OTHER.includes(c);
  }

  // Reads as a double quotation mark; reads as a single one (two in a row read as a
  // double one).
  const DOUBLE_QUOTE =
    /["\u00AB\u00BB\u02BA\u02DD\u02EE\u201C-\u201F\u2033\u2036\u2039\u203A\u3003\u301D-\u301F\uFF02]/u;
  const SINGLE_QUOTE = /['`\u00B4\u02B9\u02BB\u02BC\u2018-\u201B\u2032\u2035\uA78B\uA78C\uFF07]/u;

  function holdsQuote(text) {
    let afterSingle = false;
    for (const c of text) {
      const single = SINGLE_QUOTE.test(c);
      if (DOUBLE_QUOTE.test(c) || (single && afterSingle)) {
        return true;
      }
      afterSingle = single;
    }
    return false;
  }

  // Why `name` is not a file's name, in the order the server checks, or null: exactly
  // FileName::parse, which takes no name that is not NFC already.
  function fileNameProblem(name) {
    if (name.length === 0) {
      return "empty";
    }
    if (utf8.encode(name).length > FILE_NAME_BYTES_MAX) {
      return "too_long";
    }
    if (name.includes("/") || name.includes("\\") || name === "." || name === "..") {
      return "path";
    }
    if (/^\p{White_Space}|\p{White_Space}$/u.test(name)) {
      return "spaces";
    }
    if (name.normalize("NFC") !== name) {
      return "not_normalized";
    }
    const characters = [...name];
    if (characters.some(unprintable)) {
      return "unprintable";
    }
    if (holdsQuote(name) || !characters.every(quotable)) {
      return "quote";
    }
    return null;
  }

  // The first character of `name` that breaks the rule `reason` (unprintable or quote),
  // so that a person knows what to rename.
  function culprit(name, reason) {
    let afterSingle = false;
    for (const c of name) {
      const single = SINGLE_QUOTE.test(c);
      const quote = DOUBLE_QUOTE.test(c) || (single && afterSingle) || !quotable(c);
      if (reason === "unprintable" ? unprintable(c) : quote) {
        return c;
      }
      afterSingle = single;
    }
    return null;
  }

  function codePoint(c) {
    return `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
  }

  // A file's name as the station sends it (NFC, as the server requires), and whether the
  // server takes it: {ok, name, reason, message}; reason and message are null when ok.
  function checkName(name) {
    const normalized = String(name).normalize("NFC");
    const reason = fileNameProblem(normalized);
    if (reason === null) {
      return { ok: true, name: normalized, reason, message: null };
    }
    const c = culprit(normalized, reason);
    let message = REASONS[reason];
    if (c !== null) {
      message += reason === "quote" ? ` (${c} ${codePoint(c)})` : ` (${codePoint(c)})`;
    }
    return { ok: false, name: normalized, reason, message };
  }

  // -- destinations (email.rs, phone.rs) ---------------------------------------------------

  const ATOM_SYMBOLS = "!#$%&'*+-/=?^_`{|}~";
  const ALPHANUMERIC = /[\p{Alphabetic}\p{N}]/u;

  function atomCharacter(c) {
    return /[A-Za-z0-9]/.test(c) || ATOM_SYMBOLS.includes(c) || (c > "\x7F" && ALPHANUMERIC.test(c));
  }

  function domainLabel(label) {
    return (
      label.length > 0 &&
      utf8.encode(label).length <= 63 &&
      !label.startsWith("-") &&
      !label.endsWith("-") &&
      [...label].every((c) => c === "-" || ALPHANUMERIC.test(c))
    );
  }

  // One bare address, name@domain, as EmailAddress::from_str takes it.
  function emailOk(text) {
    const at = text.lastIndexOf("@");
    if (at < 0) {
      return false;
    }
    const local = text.slice(0, at);
    const domain = text.slice(at + 1);
    return (
      utf8.encode(text).length <= EMAIL_BYTES_MAX &&
      utf8.encode(local).length <= EMAIL_LOCAL_BYTES_MAX &&
      local.split(".").every((part) => part.length > 0 && [...part].every(atomCharacter)) &&
      domain.split(".").every(domainLabel)
    );
  }

  // An international number (E.164): + and 7 to 15 digits, the first not 0.
  function phoneOk(text) {
    return /^\+[1-9][0-9]{6,14}$/.test(text);
  }

  // A destination as a person types it: spaces around removed, an e-mail address in NFC,
  // the spaces, dots, dashes and brackets people write in a phone number removed.
  // {ok, destination ({email?, phone?}, the form the manifest states), reason}.
  function checkDestination({ email = "", phone = "" }) {
    const destination = {};
    const emailText = String(email).trim().normalize("NFC");
    const phoneText = String(phone).replace(/[\s.\-()]/gu, "");
    if (emailText !== "") {
      if (!emailOk(emailText)) {
        const reason = `${emailText} is not one bare e-mail address (name@example.org)`;
        return { ok: false, destination, reason };
      }
      destination.email = emailText;
    }
    if (phoneText !== "") {
      if (!phoneOk(phoneText)) {
        const reason = `${phoneText} is not an international phone number (+33612345678)`;
        return { ok: false, destination, reason };
      }
      destination.phone = phoneText;
    }
    if (emailText === "" && phoneText === "") {
      return { ok: false, destination, reason: "a destination needs an e-mail address or a phone number" };
    }
    return { ok: true, destination, reason: null };
  }

  // -- the manifest ------------------------------------------------------------------------

  function wellFormed(text) {
    return typeof text === "string" && !/\p{Cs}/u.test(text);
  }

  // The canonical JSON of the manifest (RFC 8785): exactly the bytes the server writes
  // (Manifest::canonical) and the only form it accepts. Members are written in the order
  // of their names' UTF-16 code units, which for these ASCII names is the order below,
  // and JSON.stringify writes strings and integers as RFC 8785 does. Throws on what the
  // server could not have written: a name it refuses, a size that is not an exact
  // integer, a digest that is not 64 lowercase hexadecimal digits, a string with a lone
  // surrogate.
  function canonicalManifest({ envelope, certificate, files, destinations = [] }) {
    if (!wellFormed(envelope) || !wellFormed(certificate)) {
      throw new TypeError("the envelope's id and the certificate's serial are strings");
    }
    if (!Array.isArray(files) || !Array.isArray(destinations)) {
      throw new TypeError("files and destinations are arrays");
    }
    const manifest = {
      certificate,
      destinations: destinations.map(destinationMembers),
      envelope,
      files: files.map(fileMembers),
      v: MANIFEST_VERSION,
    };
    return JSON.stringify(manifest);
  }

  function fileMembers({ name, size, sha256 }) {
    const checked = checkName(name);
    if (!checked.ok || checked.name !== name) {
      throw new RangeError(`${JSON.stringify(name)}: ${checked.message || "not in NFC"}`);
    }
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`${name}: its size ${size} is not an exact integer of bytes`);
    }
    if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) {
      throw new RangeError(`${name}: its SHA-256 is not 64 lowercase hexadecimal digits`);
    }
    return { name, sha256, size };
  }

  function destinationMembers(destination) {
    const members = {};
    for (const key of ["email", "phone"]) {
      if (destination[key] !== undefined) {
        if (!wellFormed(destination[key])) {
          throw new TypeError(`a destination's ${key} is a string`);
        }
        members[key] = destination[key];
      }
    }
    if (Object.keys(members).length === 0) {
      throw new RangeError("a destination has an e-mail address or a phone number");
    }
    return members;
  }

  // -- limits (EnvelopeLimits::check) -------------------------------------------------------

  // What breaks the limits, {code, message}, or null. `files`: [{name, size}] (NFC
  // names); `limits`: the envelope's {files_max, file_bytes_max, envelope_bytes_max},
  // any of them missing when not known.
  function limitsProblem(files, limits = {}) {
    const filesMax = limits.files_max;
    const fileBytesMax = limits.file_bytes_max;
    const envelopeBytesMax = limits.envelope_bytes_max;
    if (files.length === 0) {
      return { code: "no_file", message: "an envelope holds at least one file" };
    }
    if (filesMax !== undefined && files.length > filesMax) {
      return { code: "too_many_files", message: `an envelope holds at most ${filesMax} files` };
    }
    const seen = new Set();
    let total = 0;
    for (const { name, size } of files) {
      if (fileBytesMax !== undefined && size > fileBytesMax) {
        return { code: "file_too_large", message: `${name} is larger than ${fileBytesMax} bytes` };
      }
      total += size;
      if (seen.has(name)) {
        return { code: "name_twice", message: `two files are named ${name}` };
      }
      seen.add(name);
    }
    if (envelopeBytesMax !== undefined && total > envelopeBytesMax) {
      const message = `the files together are larger than ${envelopeBytesMax} bytes`;
      return { code: "envelope_too_large", message };
    }
    return null;
  }

  // The disposable certificate's life for an envelope of `totalBytes`: the default, and
  // one more second per megabyte, so that a slow line still sends every file in time.
  function lifetimeFor(totalBytes) {
    const seconds = LIFETIME_S_DEFAULT + Math.ceil(totalBytes / UPLOAD_BYTES_PER_S_MIN);
    return Math.min(seconds, LIFETIME_S_MAX);
  }

  // -- bytes as text -------------------------------------------------------------------------

  function toBase64(bytes) {
    let binary = "";
    for (let at = 0; at < bytes.length; at += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
    }
    return btoa(binary);
  }

  function fromBase64(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }

  function toHex(bytes) {
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  function fromHex(text) {
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(text)) {
      throw new RangeError("not an even number of hexadecimal digits");
    }
    const bytes = new Uint8Array(text.length / 2);
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
    }
    return bytes;
  }

  // -- the JSON API ----------------------------------------------------------------------------

  // A refusal, the server's (`code` and `message` as it answered, `status` its HTTP
  // status) or the station's own (`status` null). `envelopeId`: the envelope it befell,
  // once there is one.
  class NotaryError extends Error {
    constructor(code, message, { status = null, body = null, envelopeId = null } = {}) {
      super(message);
      this.name = "NotaryError";
      this.code = code;
      this.status = status;
      this.body = body;
      this.envelopeId = envelopeId;
    }
  }

  // One call: `json` is sent as JSON, or `body` as octets. Resolves to the answer's JSON;
  // rejects with a NotaryError carrying the server's {"error": {code, message}}.
  async function call(fetchFunction, method, path, { csrf, json, body } = {}) {
    const headers = { Accept: "application/json" };
    if (csrf) {
      headers["X-CSRF-Token"] = csrf;
    }
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/octet-stream";
    }
    let response;
    try {
      response = await fetchFunction(path, { method, headers, body, credentials: "same-origin" });
    } catch (error) {
      throw new NotaryError("network", `the server could not be reached: ${error.message || error}`);
    }
    const text = await response.text();
    let answer = null;
    try {
      answer = JSON.parse(text);
    } catch {
      // Not JSON: said below.
    }
    if (!response.ok) {
      const error = answer && answer.error;
      if (error && typeof error.code === "string") {
        const message = String(error.message || error.code);
        throw new NotaryError(error.code, message, { status: response.status, body: answer });
      }
      const message = `the server answered ${response.status} ${response.statusText || ""}`.trim();
      throw new NotaryError(`http_${response.status}`, message, { status: response.status });
    }
    if (answer === null || typeof answer !== "object") {
      const message = `the server's answer to ${method} ${path} is not JSON`;
      throw new NotaryError("bad_answer", message, { status: response.status });
    }
    return answer;
  }

  function envelopePath(id) {
    return `${API}/${encodeURIComponent(id)}`;
  }

  // The files as the manifest will state them, checked as the server will check them.
  function prepareFiles(files) {
    if (!Array.isArray(files) || files.length === 0) {
      throw new NotaryError("no_file", "an envelope holds at least one file");
    }
    return files.map((item, index) => {
      const file = item.file;
      const checked = checkName(item.name === undefined ? file.name : item.name);
      if (!checked.ok) {
        throw new NotaryError("invalid_name", `file ${index + 1}: ${checked.message}`);
      }
      return { file, name: checked.name, size: file.size, sha256: item.sha256 || null };
    });
  }

  function prepareDestinations(destinations) {
    if (destinations.length > DESTINATIONS_MAX) {
      const message = `an envelope has at most ${DESTINATIONS_MAX} destinations`;
      throw new NotaryError("too_many_destinations", message);
    }
    return destinations.map((typed, index) => {
      const checked = checkDestination(typed);
      if (!checked.ok) {
        throw new NotaryError("invalid_destination", `destination ${index + 1}: ${checked.reason}`);
      }
      return checked.destination;
    });
  }

  function refuseBeyond(files, limits) {
    const problem = limitsProblem(files, limits);
    if (problem) {
      throw new NotaryError(problem.code, problem.message);
    }
  }

  // Sends an envelope: `files` [{file (a File or Blob), name (the file's own if not
  // given), sha256 (hex, when hashed already)}], `destinations` [{email?, phone?}] as
  // typed, `csrf` the session's token. Hashes what is not hashed yet, makes the station's
  // key (its private half cannot be exported), opens the envelope for it, signs the
  // manifest, sends it, then each file. Resolves to the envelope's JSON after the last
  // file (state awaiting_seal: the seal is on its way to the client's phone).
  // `onProgress({step, index, count, done, total})`: step is hash, key, open, sign,
  // manifest or upload; done and total are bytes.
  async function notarize({
    files,
    destinations = [],
    csrf,
    limits = {},
    fetch: fetchFunction = globalThis.fetch.bind(globalThis),
    subtle = globalThis.crypto.subtle,
    sha256 = globalThis.sceauSha256,
    onProgress = () => {},
  }) {
    const entries = prepareFiles(files);
    const checkedDestinations = prepareDestinations(destinations);
    refuseBeyond(entries, limits);
    const count = entries.length;
    const total = entries.reduce((sum, entry) => sum + entry.size, 0);

    let before = 0;
    for (const [index, entry] of entries.entries()) {
      if (entry.sha256 === null) {
        const at = before;
        onProgress({ step: "hash", index, count, done: at, total });
        entry.sha256 = await sha256.hashFile(entry.file, (done) =>
          onProgress({ step: "hash", index, count, done: at + done, total }),
        );
      }
      before += entry.size;
    }

    onProgress({ step: "key", count, done: 0, total });
    const keys = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    const publicKey = new Uint8Array(await subtle.exportKey("spki", keys.publicKey));

    onProgress({ step: "open", count, done: 0, total });
    let envelope = await call(fetchFunction, "POST", API, {
      csrf,
      json: { public_key: toBase64(publicKey), lifetime_s: lifetimeFor(total) },
    });
    const id = envelope.id;
    if (typeof id !== "string" || typeof envelope.certificate_serial !== "string") {
      throw new NotaryError("bad_answer", "the server's envelope has no id or no certificate serial");
    }
    try {
      refuseBeyond(entries, envelope.limits || {});
      const manifest = canonicalManifest({
        envelope: id,
        certificate: envelope.certificate_serial,
        files: entries.map(({ name, size, sha256: digest }) => ({ name, size, sha256: digest })),
        destinations: checkedDestinations,
      });

      onProgress({ step: "sign", count, done: 0, total });
      const algorithm = { name: "ECDSA", hash: "SHA-256" };
      const signature = new Uint8Array(await subtle.sign(algorithm, keys.privateKey, utf8.encode(manifest)));
      onProgress({ step: "manifest", count, done: 0, total });
      envelope = await call(fetchFunction, "POST", `${envelopePath(id)}/manifest`, {
        csrf,
        json: { manifest, signature: toBase64(signature) },
      });

      let sent = 0;
      for (const [index, entry] of entries.entries()) {
        onProgress({ step: "upload", index, count, done: sent, total });
        // The File itself as the body: the browser streams it from the disk.
        const path = `${envelopePath(id)}/files/${index}`;
        envelope = await call(fetchFunction, "PUT", path, { csrf, body: entry.file });
        sent += entry.size;
      }
      onProgress({ step: "upload", index: count, count, done: total, total });
      return envelope;
    } catch (error) {
      if (error instanceof NotaryError) {
        error.envelopeId = id;
      }
      throw error;
    }
  }

  // The seal as typed: resolves to the envelope's JSON (notarized, or sealed and waiting).
  async function sendSeal({ id, seal, csrf, fetch: fetchFunction = globalThis.fetch.bind(globalThis) }) {
    const json = { seal: String(seal).trim() };
    return call(fetchFunction, "POST", `${envelopePath(id)}/seal`, { csrf, json });
  }

  // A new seal sent to the client's phone (the previous one void).
  async function resendSeal({ id, csrf, fetch: fetchFunction = globalThis.fetch.bind(globalThis) }) {
    return call(fetchFunction, "POST", `${envelopePath(id)}/seal/resend`, { csrf, json: {} });
  }

  async function getEnvelope({ id, fetch: fetchFunction = globalThis.fetch.bind(globalThis) }) {
    return call(fetchFunction, "GET", envelopePath(id));
  }

  // -- the page ---------------------------------------------------------------------------------

  const IDS = {
    root: "notary",
    filesInput: "notary-files-input",
    files: "notary-files",
    destinations: "notary-destinations",
    addDestination: "notary-add-destination",
    send: "notary-send",
    status: "notary-status",
    progress: "notary-progress",
    error: "notary-error",
    sealForm: "notary-seal-form",
    seal: "notary-seal",
    sealResend: "notary-seal-resend",
    result: "notary-result",
    link: "notary-envelope-link",
  };

  const STEPS = {
    hash: "Hashing",
    key: "Making the station's key",
    open: "Opening the envelope",
    sign: "Signing the manifest",
    manifest: "Sending the signed manifest",
    upload: "Sending",
  };

  function formatBytes(size) {
    return `${size.toLocaleString("en")} byte${size === 1 ? "" : "s"}`;
  }

  function errorText(error) {
    if (error instanceof NotaryError) {
      return `${error.message} (${error.code})`;
    }
    return String((error && error.message) || error);
  }

  // Wires the page: the list of files (chosen one by one or several at once, each
  // removable, each hashed at once and shown with its name, size and SHA-256), the
  // destinations, sending, the seal. Options: fetch and subtle, for tests.
  function start(
    document,
    { fetch: fetchFunction = globalThis.fetch.bind(globalThis), subtle = globalThis.crypto.subtle } = {},
  ) {
    const page = {};
    for (const [key, id] of Object.entries(IDS)) {
      page[key] = document.getElementById(id);
      if (!page[key]) {
        throw new Error(`the page has no #${id}`);
      }
    }
    const meta = document.querySelector('meta[name="csrf-token"]');
    const csrf = meta ? meta.getAttribute("content") : "";
    const limits = {};
    for (const [key, attribute] of [
      ["files_max", "data-files-max"],
      ["file_bytes_max", "data-file-bytes-max"],
      ["envelope_bytes_max", "data-envelope-bytes-max"],
    ]) {
      const value = page.root.getAttribute(attribute);
      if (value) {
        limits[key] = Number(value);
      }
    }
    const state = {
      entries: [],
      destinations: [],
      hashing: false,
      sending: false,
      sent: false,
      sealing: false,
      id: null,
    };

    function element(tag, text, className) {
      const made = document.createElement(tag);
      if (text !== undefined) {
        made.textContent = text;
      }
      if (className) {
        made.className = className;
      }
      return made;
    }

    function button(text, onClick) {
      const made = element("button", text);
      made.type = "button";
      made.addEventListener("click", onClick);
      return made;
    }

    function showError(error) {
      page.error.textContent = error ? errorText(error) : "";
      page.error.hidden = !error;
    }

    function showStatus(text) {
      page.status.textContent = text;
    }

    function showLink(id) {
      page.link.href = `/wallet/envelopes/${encodeURIComponent(id)}`;
      page.link.textContent = "The envelope's page";
      page.result.hidden = false;
    }

    // What keeps the envelope from being sent, or null.
    function problem() {
      if (state.entries.some((entry) => !entry.check.ok)) {
        return "a file's name is refused: rename the file and choose it again";
      }
      const limitProblem = limitsProblem(
        state.entries.map((entry) => ({ name: entry.check.name, size: entry.file.size })),
        limits,
      );
      if (limitProblem) {
        return limitProblem.message;
      }
      if (state.entries.some((entry) => entry.failed)) {
        return "a file could not be read: remove it or choose it again";
      }
      if (state.entries.some((entry) => entry.sha256 === null)) {
        return "hashing...";
      }
      return null;
    }

    function digestText(entry) {
      if (!entry.check.ok) {
        return entry.check.message;
      }
      if (entry.failed) {
        return `could not be read: ${entry.failed}`;
      }
      if (entry.sha256 === null) {
        return entry.percent === null ? "waiting to be hashed" : `hashing: ${entry.percent}%`;
      }
      return entry.sha256;
    }

    function render() {
      const rows = state.entries.map((entry) => {
        const row = element("tr");
        entry.digestCell = element("td", digestText(entry), entry.sha256 ? "sha256" : "");
        const remove = button("Remove", () => {
          state.entries = state.entries.filter((other) => other !== entry);
          render();
        });
        remove.disabled = state.sending || state.sent;
        const actions = element("td");
        actions.append(remove);
        const size = element("td", formatBytes(entry.file.size));
        row.append(element("td", entry.check.name), size, entry.digestCell, actions);
        return row;
      });
      page.files.replaceChildren(...rows);
      const blocked = state.entries.length === 0 ? "choose the files to send" : problem();
      page.send.disabled = blocked !== null || state.sending || state.sent;
      if (!state.sending && !state.sent) {
        const count = state.entries.length;
        showStatus(blocked || `${count} file${count === 1 ? "" : "s"} ready to send`);
      }
      page.filesInput.disabled = state.sending || state.sent;
      page.addDestination.disabled = state.sending || state.sent;
      for (const { email, phone, remove } of state.destinations) {
        email.disabled = phone.disabled = remove.disabled = state.sending || state.sent;
      }
    }

    // Hashes the files not hashed yet, one after the other, showing how far each is.
    async function hashPending() {
      if (state.hashing) {
        return;
      }
      state.hashing = true;
      try {
        for (;;) {
          const entry = state.entries.find((item) => item.check.ok && item.sha256 === null && !item.failed);
          if (!entry) {
            break;
          }
          entry.percent = 0;
          entry.digestCell.textContent = digestText(entry);
          try {
            entry.sha256 = await sceauSha256.hashFile(entry.file, (done, total) => {
              const percent = total === 0 ? 100 : Math.floor((100 * done) / total);
              if (percent !== entry.percent) {
                entry.percent = percent;
                entry.digestCell.textContent = digestText(entry);
              }
            });
          } catch (error) {
            entry.failed = String(error.message || error);
          }
          render();
        }
      } finally {
        state.hashing = false;
      }
    }

    page.filesInput.addEventListener("change", () => {
      for (const file of page.filesInput.files) {
        const check = checkName(file.name);
        state.entries.push({ file, check, sha256: null, percent: null, failed: null, digestCell: null });
      }
      // Emptied, so that the next file (or the same one again) is added to the list.
      page.filesInput.value = "";
      showError(null);
      render();
      hashPending();
    });

    page.addDestination.addEventListener("click", () => {
      const row = element("div", undefined, "destination");
      const email = element("input");
      email.type = "email";
      email.setAttribute("aria-label", "E-mail address");
      email.setAttribute("placeholder", "name@example.org");
      const phone = element("input");
      phone.type = "tel";
      phone.setAttribute("aria-label", "Phone number");
      phone.setAttribute("placeholder", "+33612345678");
      const message = element("span", "", "problem");
      const destination = { row, email, phone, message, remove: null };
      destination.remove = button("Remove", () => {
        state.destinations = state.destinations.filter((other) => other !== destination);
        row.remove();
      });
      row.append(email, phone, destination.remove, message);
      state.destinations.push(destination);
      page.destinations.append(row);
    });

    // The destinations typed, as the manifest will state them (written back in their
    // inputs so that what is shown is what is signed); rows left blank are skipped.
    function readDestinations() {
      const read = [];
      let refused = null;
      for (const destination of state.destinations) {
        if (destination.email.value.trim() === "" && destination.phone.value.trim() === "") {
          destination.message.textContent = "";
          continue;
        }
        const checked = checkDestination({ email: destination.email.value, phone: destination.phone.value });
        destination.message.textContent = checked.ok ? "" : checked.reason;
        if (checked.ok) {
          destination.email.value = checked.destination.email || "";
          destination.phone.value = checked.destination.phone || "";
          read.push(checked.destination);
        } else {
          refused = refused || new NotaryError("invalid_destination", checked.reason);
        }
      }
      if (refused) {
        throw refused;
      }
      return read;
    }

    function showProgress({ step, index, count, done, total }) {
      const name = index !== undefined && index < count ? state.entries[index].check.name : null;
      let which = name ? ` ${name}` : "";
      if (step === "upload" && name) {
        which = ` file ${index + 1} of ${count}: ${name}`;
      }
      showStatus(step === "upload" && index === count ? "Every file is sent" : `${STEPS[step]}${which}...`);
      page.progress.max = Math.max(total, 1);
      page.progress.value = total === 0 ? 1 : done;
    }

    page.send.addEventListener("click", async () => {
      if (state.sending || state.sent) {
        return;
      }
      showError(null);
      let destinations;
      try {
        destinations = readDestinations();
      } catch (error) {
        showError(error);
        return;
      }
      state.sending = true;
      render();
      let envelope;
      try {
        envelope = await notarize({
          files: state.entries.map(({ file, check, sha256 }) => ({ file, name: check.name, sha256 })),
          destinations,
          csrf,
          limits,
          fetch: fetchFunction,
          subtle,
          onProgress: showProgress,
        });
        state.sent = true;
      } catch (error) {
        // Refused or cut short: the envelope (if one was opened) ends there; sending again
        // opens another.
        state.sending = false;
        render();
        showError(error);
        showStatus("Nothing was notarized.");
        if (error.envelopeId) {
          showLink(error.envelopeId);
        }
        return;
      }
      state.sending = false;
      render();
      state.id = envelope.id;
      showLink(envelope.id);
      if (envelope.state === "awaiting_seal") {
        showStatus("Every file arrived. Type the seal sent to your phone.");
        page.sealForm.hidden = false;
        page.seal.focus();
      } else {
        showStatus(`The envelope is ${envelope.state}.`);
      }
    });

    function showSealed(envelope) {
      if (envelope.state === "notarized") {
        showStatus("Notarized: every file is signed, time-stamped and archived.");
      } else if (envelope.state === "sealed") {
        const why = envelope.waiting ? `: ${envelope.waiting}` : "";
        showStatus(`Sealed; the signatures are not made yet${why}. The envelope's page will show them.`);
      } else {
        showStatus(`The envelope is ${envelope.state}.`);
      }
    }

    page.sealForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (state.sealing) {
        return;
      }
      state.sealing = true;
      showError(null);
      try {
        const envelope = await sendSeal({ id: state.id, seal: page.seal.value, csrf, fetch: fetchFunction });
        page.seal.value = "";
        page.sealForm.hidden = true;
        showSealed(envelope);
      } catch (error) {
        showError(error);
        // A wrong seal leaves tries; whether the envelope still waits for one, it says.
        try {
          const envelope = await getEnvelope({ id: state.id, fetch: fetchFunction });
          if (envelope.state !== "awaiting_seal") {
            page.sealForm.hidden = true;
            showSealed(envelope);
          }
        } catch {
          // The error shown says enough.
        }
      } finally {
        state.sealing = false;
      }
    });

    page.sealResend.addEventListener("click", async () => {
      showError(null);
      try {
        await resendSeal({ id: state.id, csrf, fetch: fetchFunction });
        showStatus("A new seal was sent to your phone; the previous one is void.");
      } catch (error) {
        showError(error);
      }
    });

    page.sealForm.hidden = true;
    page.result.hidden = true;
    showError(null);
    render();
    return state;
  }

  globalThis.sceauNotary = Object.freeze({
    FILE_NAME_BYTES_MAX,
    NotaryError,
    checkName,
    fileNameProblem,
    checkDestination,
    canonicalManifest,
    limitsProblem,
    lifetimeFor,
    toBase64,
    fromBase64,
    toHex,
    fromHex,
    notarize,
    sendSeal,
    resendSeal,
    getEnvelope,
    start,
  });

  // Wires the notary's page, once it is parsed, if this is it.
  if (typeof document !== "undefined") {
    const wire = () => document.getElementById(IDS.root) && start(document);
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", wire);
    } else {
      wire();
    }
  }
})();
