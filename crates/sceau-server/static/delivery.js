// Certified delivery, the recipient's files page (under /d/{token}): before they answer,
// the recipient's browser checks every file itself. It makes a key of its own that never
// leaves the browser and has sceau certify it for this recipient of this delivery (the
// withdrawal certificate); fetches each file and its detached CMS signature (.p7s);
// hashes the file as it streams, compares the digest with the signed one, verifies the
// sender's signature over the signed attributes with WebCrypto, and checks that the
// signature names the sender's certificate; then signs its answer, accept or reject, with
// every digest it computed and every verdict, with the withdrawal key.
//
// A classic script, loaded after sha256.js and cms.js (for the reason written in
// sha256.js: Subresource Integrity covers exactly the scripts a page names). It defines
// one global, `sceauDelivery`, and wires the page when the page has the element
// `#delivery`:
//
//   await sceauDelivery.checkFile({file, p7s, senderCertificate, onProgress})
//     // {sha256, digestMatches, signatureValid, certificateMatches, ok, reason}
//   sceauDelivery.statement({delivery, recipient, certificate, answer, files, reason})
//     // the JSON text the answer signs
//   await sceauDelivery.withdraw({base, csrf})                    // {key, serial, certificate}
//   await sceauDelivery.answer({base, csrf, key, serial, delivery, recipient, answer,
//                               results, reason})                 // the server's JSON
//   await sceauDelivery.getDelivery({base})                       // delivery.json
"use strict";

(function () {
  const STATEMENT_TYPE = "sceau-delivery-answer/1";
  const REASONS = {
    unreadable: "the signature cannot be read",
    fileUnreadable: "the file cannot be read",
    certificate: "signed by another certificate",
    digest: "the file differs from what was signed",
    signature: "the signature does not verify",
  };
  const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" };
  const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" };
  const utf8 = new TextEncoder();

  // A refusal, the server's (`code` and `message` as it answered, `status` its HTTP
  // status) or the page's own (`status` null).
  class DeliveryError extends Error {
    constructor(code, message, { status = null, body = null } = {}) {
      super(message);
      this.name = "DeliveryError";
      this.code = code;
      this.status = status;
      this.body = body;
    }
  }

  function toBase64(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  // Standard, padded base64, as the server writes it; anything else is a bad answer.
  function fromBase64(text) {
    if (typeof text !== "string" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      throw new DeliveryError("bad_answer", "the server's answer holds bytes that are not in base64");
    }
    const binary = atob(text);
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function sameBytes(a, b) {
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }

  // -- the JSON API ---------------------------------------------------------------------------

  // One call, same-origin: `json` is posted as JSON with the session's CSRF token.
  // Resolves to the answer as JSON, a Blob (`as: "blob"`) or bytes (`as: "bytes"`);
  // rejects with a DeliveryError carrying the server's {"error": {code, message}}.
  async function call(fetchFunction, method, path, { csrf, json, as = "json" } = {}) {
    const headers = { Accept: "application/json" };
    let body;
    if (method === "POST") {
      headers["X-CSRF-Token"] = csrf;
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    let response;
    try {
      response = await fetchFunction(path, { method, headers, body, credentials: "same-origin" });
    } catch (error) {
      throw new DeliveryError("network", `the server could not be reached: ${error.message || error}`);
    }
    if (response.ok && as === "blob") {
      return response.blob();
    }
    if (response.ok && as === "bytes") {
      return new Uint8Array(await response.arrayBuffer());
    }
    let answer = null;
    try {
      answer = JSON.parse(await response.text());
    } catch {
      // Not JSON: said below.
    }
    if (!response.ok) {
      const error = answer && answer.error;
      if (error && typeof error.code === "string") {
        throw new DeliveryError(error.code, String(error.message || error.code), { status: response.status, body: answer });
      }
      const message = `the server answered ${response.status} ${response.statusText || ""}`.trim();
      throw new DeliveryError(`http_${response.status}`, message, { status: response.status });
    }
    if (answer === null || typeof answer !== "object") {
      throw new DeliveryError("bad_answer", `the server's answer to ${method} ${path} is not JSON`, { status: response.status });
    }
    return answer;
  }

  async function getDelivery({ base, fetch: fetchFunction = globalThis.fetch.bind(globalThis) }) {
    return call(fetchFunction, "GET", `${base}/delivery.json`);
  }

  // -- one file's check -----------------------------------------------------------------------

  // Hashes `file` (a Blob) as it streams and checks it against `p7s`, its detached CMS
  // signature: the signed message digest is the file's SHA-256; the signature verifies
  // under the key of `senderCertificate` (DER, as the server gave it apart); the
  // certificate the signature names is that one, byte for byte. Never rejects for a bad
  // file or signature: `reason` says what failed first (null when `ok`).
  async function checkFile({
    file,
    p7s,
    senderCertificate,
    onProgress,
    subtle = globalThis.crypto.subtle,
    sha256 = globalThis.sceauSha256,
    cms = globalThis.sceauCms,
  }) {
    const result = { sha256: null, digestMatches: false, signatureValid: false, certificateMatches: false, ok: false, reason: null };
    try {
      result.sha256 = await sha256.hashFile(file, onProgress);
    } catch {
      result.reason = REASONS.fileUnreadable;
      return result;
    }
    let signed;
    try {
      signed = cms.parseSignedData(p7s);
    } catch {
      result.reason = REASONS.unreadable;
      return result;
    }
    result.digestMatches = sha256.toHex(signed.messageDigest) === result.sha256;
    result.certificateMatches = sameBytes(signed.signerCertificate, senderCertificate);
    try {
      const spki = cms.certificateSpki(senderCertificate);
      const key = await subtle.importKey("spki", spki, ECDSA_P256, false, ["verify"]);
      result.signatureValid = await subtle.verify(ECDSA_SHA256, key, signed.signature, signed.signedAttributes);
    } catch {
      // The sender's certificate or key cannot be read: nothing verifies under it.
    }
    result.ok = result.digestMatches && result.signatureValid && result.certificateMatches;
    if (!result.certificateMatches) {
      result.reason = REASONS.certificate;
    } else if (!result.digestMatches) {
      result.reason = REASONS.digest;
    } else if (!result.signatureValid) {
      result.reason = REASONS.signature;
    }
    return result;
  }

  // -- the answer -----------------------------------------------------------------------------

  function text(value, what) {
    if (typeof value !== "string" || value === "" || /\p{Cs}/u.test(value)) {
      throw new TypeError(`${what} is not a non-empty string of Unicode characters`);
    }
    return value;
  }

  const position = (value) => Number.isSafeInteger(value) && value >= 0;
  const passed = (file) => file.digestMatches === true && file.signatureValid === true && file.certificateMatches === true;

  // The JSON text the answer signs, its members in this order: type, delivery, recipient
  // (a position), certificate (the withdrawal certificate's serial), answer ("accept" or
  // "reject"), files (by position: its SHA-256 as computed here, or null when it could not
  // be read; whether the digest matched; whether the sender's signature is valid, that is
  // verifies under the sender's key and names the sender's certificate), and reason when
  // one is given. `files`: checkFile's results, each with its `position`. Accepting is
  // refused unless every file passed.
  function statement({ delivery, recipient, certificate, answer, files, reason }) {
    text(delivery, "the delivery");
    text(certificate, "the certificate's serial");
    if (!position(recipient)) {
      throw new TypeError("the recipient is not a position");
    }
    if (answer !== "accept" && answer !== "reject") {
      throw new TypeError('the answer is "accept" or "reject"');
    }
    if (reason !== undefined && reason !== null && reason !== "") {
      text(reason, "the reason");
    }
    if (!Array.isArray(files)) {
      throw new TypeError("the files are not an array");
    }
    const sorted = [...files].sort((a, b) => a.position - b.position);
    sorted.forEach((file, index) => {
      if (!position(file.position) || (index > 0 && file.position === sorted[index - 1].position)) {
        throw new TypeError("a file's position is missing, not an integer, or given twice");
      }
      if (file.sha256 !== null && !/^[0-9a-f]{64}$/.test(file.sha256)) {
        throw new TypeError(`file ${file.position}: the SHA-256 is not 64 lowercase hexadecimal digits`);
      }
    });
    if (answer === "accept" && (sorted.length === 0 || !sorted.every(passed))) {
      throw new DeliveryError("accept_refused", "a delivery is accepted only when every file passed its check");
    }
    const signed = {
      type: STATEMENT_TYPE,
      delivery,
      recipient,
      certificate,
      answer,
      files: sorted.map((file) => ({
        position: file.position,
        sha256: file.sha256,
        digest_matches: file.digestMatches === true,
        signature_valid: file.signatureValid === true && file.certificateMatches === true,
      })),
    };
    if (typeof reason === "string" && reason !== "") {
      signed.reason = reason;
    }
    return JSON.stringify(signed);
  }

  // Makes the withdrawal key (its private half cannot be exported) and has sceau certify
  // it. Resolves to {key (the CryptoKeyPair), serial, certificate (DER)}; rejects when the
  // certificate is not for this key.
  async function withdraw({
    base,
    csrf,
    fetch: fetchFunction = globalThis.fetch.bind(globalThis),
    subtle = globalThis.crypto.subtle,
    cms = globalThis.sceauCms,
  }) {
    const key = await subtle.generateKey(ECDSA_P256, false, ["sign", "verify"]);
    const spki = new Uint8Array(await subtle.exportKey("spki", key.publicKey));
    const answer = await call(fetchFunction, "POST", `${base}/withdrawal`, { csrf, json: { public_key: toBase64(spki) } });
    if (typeof answer.serial !== "string" || answer.serial === "") {
      throw new DeliveryError("bad_answer", "the server's withdrawal certificate has no serial");
    }
    const certificate = fromBase64(answer.certificate);
    let certified = null;
    try {
      certified = cms.certificateSpki(certificate);
    } catch {
      // Said below.
    }
    if (certified === null || !sameBytes(certified, spki)) {
      throw new DeliveryError("withdrawal_certificate_mismatch", "the withdrawal certificate is not for this browser's key");
    }
    return { key, serial: answer.serial, certificate };
  }

  // Signs the statement with the withdrawal key (ECDSA with SHA-256 over its UTF-8 bytes,
  // r || s) and sends it. `key`: withdraw's key pair, or its private key. Resolves to the
  // server's JSON ({state: "accepted" | "rejected"}).
  async function answer({
    base,
    csrf,
    fetch: fetchFunction = globalThis.fetch.bind(globalThis),
    subtle = globalThis.crypto.subtle,
    key,
    serial,
    delivery,
    recipient,
    answer: choice,
    results,
    reason,
  }) {
    const signed = statement({ delivery, recipient, certificate: serial, answer: choice, files: results, reason });
    const signature = new Uint8Array(await subtle.sign(ECDSA_SHA256, key.privateKey || key, utf8.encode(signed)));
    return call(fetchFunction, "POST", `${base}/answer`, { csrf, json: { statement: signed, signature: toBase64(signature) } });
  }

  // -- the page -------------------------------------------------------------------------------

  const IDS = {
    root: "delivery",
    check: "delivery-check",
    accept: "delivery-accept",
    reject: "delivery-reject",
    reason: "delivery-reason",
    outcome: "delivery-outcome",
  };
  const ANSWERED = {
    accepted: "You accepted the delivery. The sender is told.",
    rejected: "You rejected the delivery. The sender is told.",
  };

  // The page's words, in the page's language (its <html lang>): English, or French.
  const WORDS = {
    en: {
      answered: ANSWERED,
      reasons: {},
      intact: (sha256) => `Intact, signed by the sender. SHA-256 ${sha256}`,
      failed: (reason) => `Failed: ${reason}.`,
      fetchFailed: (why) => `the file could not be fetched: ${why}`,
      unreadable: (why) => `The delivery could not be read: ${why}`,
      notWithdrawable: (state) => `This delivery is ${state}: its files cannot be withdrawn.`,
      checking: "Checking the files...",
      allPassed: "Every file is intact and signed by the sender.",
      oneFailed: "A file failed its check: you may reject the delivery.",
      notWithdrawn: (why) => `The files could not be withdrawn: ${why}`,
      other: (state) => `The delivery is ${state}.`,
      notRecorded: (why) => `Your answer was not recorded: ${why}`,
    },
    fr: {
      answered: {
        accepted: "Vous avez accepté l'envoi. L'expéditeur en est informé.",
        rejected: "Vous avez refusé l'envoi. L'expéditeur en est informé.",
      },
      reasons: {
        [REASONS.unreadable]: "la signature est illisible",
        [REASONS.fileUnreadable]: "le fichier est illisible",
        [REASONS.certificate]: "signé par un autre certificat",
        [REASONS.digest]: "le fichier diffère de celui qui a été signé",
        [REASONS.signature]: "la signature n'est pas valide",
      },
      intact: (sha256) => `Intact, signé par l'expéditeur. SHA-256 ${sha256}`,
      failed: (reason) => `Échec : ${reason}.`,
      fetchFailed: (why) => `le fichier n'a pas pu être reçu : ${why}`,
      unreadable: (why) => `L'envoi n'a pas pu être lu : ${why}`,
      notWithdrawable: (state) => `Cet envoi est ${state} : ses fichiers ne peuvent plus être reçus.`,
      checking: "Vérification des fichiers…",
      allPassed: "Chaque fichier est intact et signé par l'expéditeur.",
      oneFailed: "Un fichier n'a pas passé la vérification : vous pouvez refuser l'envoi.",
      notWithdrawn: (why) => `Les fichiers n'ont pas pu être reçus : ${why}`,
      other: (state) => `L'envoi est ${state}.`,
      notRecorded: (why) => `Votre réponse n'a pas été enregistrée : ${why}`,
    },
  };

  function wordsOf(document) {
    const element = document.documentElement;
    const lang = element && typeof element.getAttribute === "function" ? element.getAttribute("lang") : null;
    return typeof lang === "string" && lang.toLowerCase().startsWith("fr") ? WORDS.fr : WORDS.en;
  }

  function errorText(error) {
    return error instanceof DeliveryError ? `${error.message} (${error.code})` : String((error && error.message) || error);
  }

  // Wires the page: #delivery (data-base: the recipient's base path), #delivery-check,
  // #delivery-accept, #delivery-reject, #delivery-outcome; #delivery-reason and each
  // file's [data-file="N"] .verdict and progress when present. Options: fetch and
  // subtle, for tests. Returns the page's state; `state.loaded` settles once
  // delivery.json is read.
  function start(
    document,
    { fetch: fetchFunction = globalThis.fetch.bind(globalThis), subtle = globalThis.crypto.subtle } = {},
  ) {
    const page = {};
    for (const [name, id] of Object.entries(IDS)) {
      page[name] = document.getElementById(id);
      if (!page[name] && name !== "reason") {
        throw new Error(`the page has no #${id}`);
      }
    }
    const base = page.root.getAttribute("data-base");
    const meta = document.querySelector('meta[name="csrf-token"]');
    const csrf = meta ? meta.getAttribute("content") : "";
    const state = { delivery: null, senderCertificate: null, withdrawal: null, results: null, busy: false };
    const words = wordsOf(document);
    const say = (message) => {
      page.outcome.textContent = message;
    };
    const allPassed = () => state.results !== null && state.results.length > 0 && state.results.every(passed);
    // Once checked: accept if every file passed, reject always, check again if a file
    // could not be fetched.
    const checked = () => {
      page.accept.disabled = !allPassed();
      page.reject.disabled = false;
      page.check.disabled = !state.results.some((result) => result.fetchFailed);
    };
    page.check.disabled = page.accept.disabled = page.reject.disabled = true;

    state.loaded = (async () => {
      try {
        const delivery = await getDelivery({ base, fetch: fetchFunction });
        if (!Array.isArray(delivery.files) || !delivery.files.every((file) => position(file.position))) {
          throw new DeliveryError("bad_answer", "the delivery's files are not numbered");
        }
        state.senderCertificate = fromBase64(delivery.sender && delivery.sender.certificate);
        state.delivery = delivery;
      } catch (error) {
        say(words.unreadable(errorText(error)));
        return;
      }
      const current = state.delivery.state;
      if (current === "authenticated" || current === "withdrawn") {
        page.check.disabled = false;
      } else {
        say(words.answered[current] || words.notWithdrawable(current));
      }
    })();

    function showVerdict(file, result) {
      const verdict = document.querySelector(`[data-file="${file.position}"] .verdict`);
      if (verdict) {
        const reason = words.reasons[result.reason] || result.reason;
        verdict.textContent = result.ok ? words.intact(result.sha256) : words.failed(reason);
        verdict.classList.remove("ok", "failed");
        verdict.classList.add(result.ok ? "ok" : "failed");
      }
    }

    async function checkAll() {
      state.withdrawal = state.withdrawal || (await withdraw({ base, csrf, fetch: fetchFunction, subtle }));
      const files = [...state.delivery.files].sort((a, b) => a.position - b.position);
      state.results = [];
      for (const file of files) {
        const progress = document.querySelector(`[data-file="${file.position}"] progress`);
        const onProgress = (done, total) => {
          if (progress) {
            progress.max = Math.max(total, 1);
            progress.value = total === 0 ? 1 : done;
          }
        };
        let result;
        try {
          const blob = await call(fetchFunction, "GET", file.file, { as: "blob" });
          const p7s = await call(fetchFunction, "GET", file.signature, { as: "bytes" });
          // From empty (full at once for an empty file, which is hashed in no chunk).
          onProgress(0, blob.size);
          result = await checkFile({ file: blob, p7s, senderCertificate: state.senderCertificate, onProgress, subtle });
        } catch (error) {
          const reason = words.fetchFailed(errorText(error));
          result = { sha256: null, digestMatches: false, signatureValid: false, certificateMatches: false, ok: false, reason, fetchFailed: true };
        }
        state.results.push({ position: file.position, ...result });
        showVerdict(file, result);
      }
    }

    // A button disabled does nothing, whatever dispatched the click.
    page.check.addEventListener("click", async () => {
      if (page.check.disabled || state.busy || state.delivery === null) {
        return;
      }
      state.busy = true;
      page.check.disabled = page.accept.disabled = page.reject.disabled = true;
      say(words.checking);
      try {
        await checkAll();
        checked();
        say(allPassed() ? words.allPassed : words.oneFailed);
      } catch (error) {
        page.check.disabled = false;
        say(words.notWithdrawn(errorText(error)));
      } finally {
        state.busy = false;
      }
    });

    async function send(choice, button) {
      if (button.disabled || state.busy || state.results === null) {
        return;
      }
      state.busy = true;
      page.check.disabled = page.accept.disabled = page.reject.disabled = true;
      try {
        const outcome = await answer({
          base,
          csrf,
          fetch: fetchFunction,
          subtle,
          key: state.withdrawal.key,
          serial: state.withdrawal.serial,
          delivery: state.delivery.delivery,
          recipient: state.delivery.recipient,
          answer: choice,
          results: state.results,
          reason: page.reason ? page.reason.value.trim() : "",
        });
        say(words.answered[outcome.state] || words.other(outcome.state));
      } catch (error) {
        checked();
        say(words.notRecorded(errorText(error)));
      } finally {
        state.busy = false;
      }
    }
    page.accept.addEventListener("click", () => send("accept", page.accept));
    page.reject.addEventListener("click", () => send("reject", page.reject));
    return state;
  }

  globalThis.sceauDelivery = Object.freeze({
    STATEMENT_TYPE,
    REASONS: Object.freeze(REASONS),
    DeliveryError,
    checkFile,
    statement,
    withdraw,
    answer,
    getDelivery,
    toBase64,
    fromBase64,
    start,
  });

  // Wires the files page, once it is parsed, if this is it.
  if (typeof document !== "undefined") {
    const wire = () => document.getElementById(IDS.root) && start(document);
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", wire);
    } else {
      wire();
    }
  }
})();
