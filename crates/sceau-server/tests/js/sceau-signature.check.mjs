// A signature as sceau itself writes it (sceau_pki::sign_detached: CAdES, its RFC 3161
// token in the unsigned attributes, the certificates as its CMS builder orders them),
// through the recipient's check (static/cms.js, static/delivery.js). Not run alone: the
// Rust test `a_signature_sceau_writes_passes_the_browser_check` (tests/delivery_js.rs)
// writes file.bin, file.p7s, sender.der and issuing.der into a directory and passes it
// as the first argument.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const directory = process.argv[2];
assert.ok(directory, "usage: node sceau-signature.check.mjs DIRECTORY (tests/delivery_js.rs gives it)");
for (const name of ["sha256.js", "cms.js", "delivery.js"]) {
  const path = fileURLToPath(new URL(`../../static/${name}`, import.meta.url));
  vm.runInThisContext(readFileSync(path, "utf8"), { filename: path });
}
const read = (name) => new Uint8Array(readFileSync(join(directory, name)));
const [content, p7s, sender, issuing] = ["file.bin", "file.p7s", "sender.der", "issuing.der"].map(read);

let checks = 0;
function check(name, actual, expected) {
  assert.deepEqual(actual, expected, name);
  checks++;
}

const parsed = globalThis.sceauCms.parseSignedData(p7s);
const sha256 = createHash("sha256").update(content).digest("hex");
check("the signer named by issuer and serial number", parsed.signerIdentifier, "issuerAndSerialNumber");
check("both certificates held", [parsed.certificates.length, parsed.certificates.some((der) => Buffer.from(der).equals(issuing))], [2, true]);
check("the signer's certificate", parsed.signerCertificate, sender);
const { checkFile } = globalThis.sceauDelivery;
check("intact and signed by the sender", await checkFile({ file: new Blob([content]), p7s, senderCertificate: sender }), {
  sha256,
  digestMatches: true,
  signatureValid: true,
  certificateMatches: true,
  ok: true,
  reason: null,
});
const changed = content.slice();
changed[0] ^= 1;
check("a byte changed", (await checkFile({ file: new Blob([changed]), p7s, senderCertificate: sender })).reason, "the file differs from what was signed");
check("the CA's certificate given as the sender's", (await checkFile({ file: new Blob([content]), p7s, senderCertificate: issuing })).reason, "signed by another certificate");

console.log(`a signature sceau writes: ${checks} checks passed`);
