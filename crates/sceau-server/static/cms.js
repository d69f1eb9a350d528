// A small, strict DER reader and the one CMS SignedData (RFC 5652) certified delivery
// hands a recipient: a detached signature of a file by the sender's key, ECDSA P-256 with
// SHA-256. It reads what the browser needs to check the file itself with WebCrypto: the
// signed message digest, the signed attributes as the signature covers them (re-tagged
// from [0] IMPLICIT to SET, RFC 5652 5.4), the signature value as r || s, and the signer's
// certificate, chosen among those the SignedData holds by the SignerInfo's sid.
//
// A classic script, for the reason sha256.js gives (Subresource Integrity covers exactly
// the scripts a page names). It defines one global, `sceauCms`:
//
//   sceauCms.parseSignedData(bytes)     // {digestAlgorithm, signatureAlgorithm,
//                                        //  contentType, messageDigest, signedAttributes,
//                                        //  signature, signerIdentifier,
//                                        //  signerCertificate, certificates, spki}
//   sceauCms.derSignatureToRaw(der, 32) // ECDSA-Sig-Value to r || s
//   sceauCms.certificateSpki(der)       // a certificate's SubjectPublicKeyInfo, DER
//
// Anything else throws an Error whose `code` is "cms_malformed" (not DER, or not the
// structure RFC 5652 and RFC 5280 give) or "cms_unsupported" (well formed, but not what
// is checked here: attached content, several signers, other algorithms or curves). The
// reader never recurses and every loop moves forward by at least two bytes, so no input
// makes it run long.
"use strict";

(function () {
  const OID = {
    signedData: "1.2.840.113549.1.7.2",
    data: "1.2.840.113549.1.7.1",
    contentType: "1.2.840.113549.1.9.3",
    messageDigest: "1.2.840.113549.1.9.4",
    sha256: "2.16.840.1.101.3.4.2.1",
    ecdsaWithSha256: "1.2.840.10045.4.3.2",
    ecPublicKey: "1.2.840.10045.2.1",
    p256: "1.2.840.10045.3.1.7",
    subjectKeyIdentifier: "2.5.29.14",
  };
  const TAG = {
    integer: 0x02,
    bitString: 0x03,
    octetString: 0x04,
    null: 0x05,
    oid: 0x06,
    sequence: 0x30,
    set: 0x31,
    // Context-specific tags: [n] constructed is 0xa0 + n, [n] primitive 0x80 + n.
    explicit0: 0xa0,
    explicit1: 0xa1,
    explicit3: 0xa3,
    implicit0: 0x80,
  };

  function failure(code, message) {
    const error = new Error(message);
    error.code = code;
    return error;
  }
  const malformed = (message) => failure("cms_malformed", `not a well-formed signature: ${message}`);
  const unsupported = (message) => failure("cms_unsupported", `a signature of another kind: ${message}`);

  // -- DER (X.690 8 and 10) --------------------------------------------------------------

  // The element at `at`, which must end by `end`: its tag, where it starts, where its
  // contents start and where it ends. One-byte tags only (CMS and X.509 need no other);
  // definite lengths in the fewest bytes (10.1): no indefinite length, no leading zero.
  function element(bytes, at, end) {
    if (end - at < 2) {
      throw malformed("an element is cut short");
    }
    const tag = bytes[at];
    if ((tag & 0x1f) === 0x1f) {
      throw malformed("a tag of more than one byte");
    }
    let length = bytes[at + 1];
    let start = at + 2;
    if (length === 0x80) {
      throw malformed("an indefinite length (BER, not DER)");
    }
    if (length > 0x80) {
      const count = length - 0x80;
      if (count > 4 || count > end - start) {
        throw malformed("a length runs past the end");
      }
      if (bytes[start] === 0) {
        throw malformed("a length with a leading zero byte");
      }
      length = 0;
      for (let i = 0; i < count; i++) {
        length = length * 256 + bytes[start + i];
      }
      if (length < 0x80) {
        throw malformed("a length in the long form that fits the short one");
      }
      start += count;
    }
    if (length > end - start) {
      throw malformed("an element runs past the end");
    }
    return { tag, at, start, end: start + length };
  }

  // The elements of a constructed one, read in order.
  class Reader {
    constructor(bytes, parent) {
      this.bytes = bytes;
      this.at = parent.start;
      this.end = parent.end;
    }

    next(tag, what) {
      const found = element(this.bytes, this.at, this.end);
      if (found.tag !== tag) {
        throw malformed(`${what}: tag 0x${found.tag.toString(16)} where 0x${tag.toString(16)} belongs`);
      }
      this.at = found.end;
      return found;
    }

    // The next element if it has the tag `tag`, or null.
    optional(tag, what) {
      return this.more() && this.bytes[this.at] === tag ? this.next(tag, what) : null;
    }

    more() {
      return this.at < this.end;
    }

    all(what) {
      const found = [];
      while (this.more()) {
        found.push(this.next(this.bytes[this.at], what));
      }
      return found;
    }

    done(what) {
      if (this.more()) {
        throw malformed(`${what} has bytes past its end`);
      }
    }
  }

  const contents = (bytes, found) => bytes.subarray(found.start, found.end);
  const whole = (bytes, found) => bytes.slice(found.at, found.end);
  const inside = (bytes, found) => new Reader(bytes, found);

  function sameBytes(a, b) {
    if (a.length !== b.length) {
      return false;
    }
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) {
        return false;
      }
    }
    return true;
  }

  // An OBJECT IDENTIFIER as dotted text (8.19): arcs in base 128, each in the fewest bytes.
  function oid(bytes, found) {
    const body = contents(bytes, found);
    if (body.length === 0 || body[body.length - 1] & 0x80) {
      throw malformed("an object identifier is empty or cut short");
    }
    const arcs = [];
    let value = 0n;
    for (let i = 0; i < body.length; i++) {
      if (value === 0n && body[i] === 0x80) {
        throw malformed("an object identifier's arc has a leading zero");
      }
      value = (value << 7n) | BigInt(body[i] & 0x7f);
      if (!(body[i] & 0x80)) {
        arcs.push(value);
        value = 0n;
      }
    }
    const first = arcs[0] < 80n ? arcs[0] / 40n : 2n;
    return [first, arcs[0] - 40n * first, ...arcs.slice(1)].join(".");
  }

  // A small non-negative INTEGER (a version).
  function version(bytes, found) {
    const body = contents(bytes, found);
    if (body.length !== 1 || body[0] > 0x7f) {
      throw malformed("a version is not a small integer");
    }
    return body[0];
  }

  // An AlgorithmIdentifier: its OID, and its parameters' element or null.
  function algorithm(bytes, found, what) {
    const reader = inside(bytes, found);
    const name = oid(bytes, reader.next(TAG.oid, what));
    const parameters = reader.more() ? reader.next(reader.bytes[reader.at], what) : null;
    reader.done(what);
    return { name, parameters };
  }

  // SHA-256, with parameters absent or NULL (RFC 5754 3: both are to be accepted).
  function requireSha256(bytes, found, what) {
    const { name, parameters } = algorithm(bytes, found, what);
    const noParameters = parameters === null || (parameters.tag === TAG.null && parameters.end === parameters.start);
    if (name !== OID.sha256 || !noParameters) {
      throw unsupported(`${what} is ${name}, not SHA-256`);
    }
  }

  // -- X.509 (RFC 5280 4.1) ----------------------------------------------------------------

  // The parts of a certificate a signer is known by: issuer and serial number (their
  // DER), subject key identifier (its bytes, or null), SubjectPublicKeyInfo (its DER).
  function certificateParts(bytes) {
    const outer = element(bytes, 0, bytes.length);
    if (outer.tag !== TAG.sequence || outer.end !== bytes.length) {
      throw malformed("a certificate is not one SEQUENCE");
    }
    const certificate = inside(bytes, outer);
    const tbs = inside(bytes, certificate.next(TAG.sequence, "tbsCertificate"));
    certificate.next(TAG.sequence, "a certificate's signature algorithm");
    certificate.next(TAG.bitString, "a certificate's signature");
    certificate.done("a certificate");
    tbs.optional(TAG.explicit0, "a certificate's version");
    const serial = tbs.next(TAG.integer, "a certificate's serial number");
    tbs.next(TAG.sequence, "a certificate's signature algorithm");
    const issuer = tbs.next(TAG.sequence, "a certificate's issuer");
    tbs.next(TAG.sequence, "a certificate's validity");
    tbs.next(TAG.sequence, "a certificate's subject");
    const spki = tbs.next(TAG.sequence, "a certificate's public key");
    tbs.optional(0x81, "a certificate's issuer unique identifier");
    tbs.optional(0x82, "a certificate's subject unique identifier");
    const extensions = tbs.optional(TAG.explicit3, "a certificate's extensions");
    tbs.done("tbsCertificate");
    let keyIdentifier = null;
    if (extensions) {
      const list = inside(bytes, extensions);
      const sequence = list.next(TAG.sequence, "a certificate's extensions");
      list.done("a certificate's extensions");
      for (const extension of inside(bytes, sequence).all("an extension")) {
        const fields = inside(bytes, extension);
        const name = oid(bytes, fields.next(TAG.oid, "an extension's identifier"));
        fields.optional(0x01, "an extension's criticality");
        const value = fields.next(TAG.octetString, "an extension's value");
        fields.done("an extension");
        if (name === OID.subjectKeyIdentifier) {
          const identifier = element(bytes, value.start, value.end);
          if (identifier.tag !== TAG.octetString || identifier.end !== value.end || keyIdentifier !== null) {
            throw malformed("a certificate's subject key identifier");
          }
          keyIdentifier = contents(bytes, identifier);
        }
      }
    }
    return { serial: whole(bytes, serial), issuer: whole(bytes, issuer), keyIdentifier, spki: whole(bytes, spki) };
  }

  function certificateSpki(der) {
    return certificateParts(der).spki;
  }

  // Whether a SubjectPublicKeyInfo is an EC key on P-256 (RFC 5480 2).
  function isP256(spki) {
    const reader = inside(spki, element(spki, 0, spki.length));
    const { name, parameters } = algorithm(spki, reader.next(TAG.sequence, "a public key's algorithm"), "a public key's algorithm");
    return name === OID.ecPublicKey && parameters !== null && parameters.tag === TAG.oid && oid(spki, parameters) === OID.p256;
  }

  // -- ECDSA (RFC 5480 2.2, RFC 5753 7.2) --------------------------------------------------

  // ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, as WebCrypto takes it: r || s,
  // each left-padded to `size` bytes.
  function derSignatureToRaw(der, size = 32) {
    const outer = element(der, 0, der.length);
    if (outer.tag !== TAG.sequence || outer.end !== der.length) {
      throw malformed("the signature value is not one SEQUENCE");
    }
    const reader = inside(der, outer);
    const raw = new Uint8Array(2 * size);
    for (const [index, name] of ["r", "s"].entries()) {
      let body = contents(der, reader.next(TAG.integer, `the signature's ${name}`));
      if (body.length === 0 || body[0] & 0x80) {
        throw malformed(`the signature's ${name} is empty or negative`);
      }
      if (body.length > 1 && body[0] === 0 && !(body[1] & 0x80)) {
        throw malformed(`the signature's ${name} has a needless leading zero`);
      }
      if (body[0] === 0) {
        body = body.subarray(1);
      }
      if (body.length > size) {
        throw malformed(`the signature's ${name} is longer than ${size} bytes`);
      }
      raw.set(body, (index + 1) * size - body.length);
    }
    reader.done("the signature value");
    return raw;
  }

  // -- CMS (RFC 5652 3, 5) ------------------------------------------------------------------

  function parseSignedData(bytes) {
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError("parseSignedData takes a Uint8Array");
    }
    const top = element(bytes, 0, bytes.length);
    if (top.tag !== TAG.sequence || top.end !== bytes.length) {
      throw malformed("not one ContentInfo SEQUENCE, or bytes after it");
    }
    const info = inside(bytes, top);
    if (oid(bytes, info.next(TAG.oid, "the content type")) !== OID.signedData) {
      throw unsupported("not a SignedData");
    }
    const explicit = inside(bytes, info.next(TAG.explicit0, "the content"));
    info.done("the ContentInfo");
    const signedData = explicit.next(TAG.sequence, "the SignedData");
    explicit.done("the content");

    const signed = inside(bytes, signedData);
    const dataVersion = version(bytes, signed.next(TAG.integer, "the SignedData's version"));
    const digestAlgorithms = inside(bytes, signed.next(TAG.set, "the digest algorithms")).all("a digest algorithm");
    if (digestAlgorithms.length !== 1 || digestAlgorithms[0].tag !== TAG.sequence) {
      throw unsupported("digest algorithms other than SHA-256 alone");
    }
    requireSha256(bytes, digestAlgorithms[0], "the digest algorithm");
    const encapsulated = inside(bytes, signed.next(TAG.sequence, "the encapsulated content"));
    const contentType = oid(bytes, encapsulated.next(TAG.oid, "the encapsulated content type"));
    if (encapsulated.more()) {
      throw unsupported("the content is attached: a detached signature is expected");
    }
    if (contentType !== OID.data) {
      throw unsupported(`content of type ${contentType}, not data`);
    }
    const certificateSet = signed.optional(TAG.explicit0, "the certificates");
    signed.optional(TAG.explicit1, "the revocation information");
    const signerInfos = inside(bytes, signed.next(TAG.set, "the signer infos")).all("a signer info");
    signed.done("the SignedData");
    if (signerInfos.length !== 1) {
      throw unsupported(`${signerInfos.length} signers (one is expected)`);
    }
    // X.509 certificates only (a SEQUENCE): the other choices (attribute certificates,
    // other formats) would make the SignedData's version 3 to 5 whatever its signer.
    const certificates = (certificateSet ? inside(bytes, certificateSet).all("a certificate") : []).map((found) => {
      if (found.tag !== TAG.sequence) {
        throw unsupported("a certificate of another kind than X.509");
      }
      return whole(bytes, found);
    });

    // SignerInfo (5.3): version 1 names the signer by issuer and serial number, version 3
    // by subject key identifier. The SignedData has its signer's version (5.1, for id-data
    // content and X.509 certificates alone): the versions are not signed, yet no byte of
    // the SignedData may be other than its one DER form.
    if (signerInfos[0].tag !== TAG.sequence) {
      throw malformed("a signer info is not a SEQUENCE");
    }
    const signer = inside(bytes, signerInfos[0]);
    const signerVersion = version(bytes, signer.next(TAG.integer, "the signer info's version"));
    let matches;
    let signerIdentifier;
    if (signerVersion === 1) {
      signerIdentifier = "issuerAndSerialNumber";
      const sid = inside(bytes, signer.next(TAG.sequence, "the signer's issuer and serial number"));
      const issuer = whole(bytes, sid.next(TAG.sequence, "the signer's issuer"));
      const serial = whole(bytes, sid.next(TAG.integer, "the signer's serial number"));
      sid.done("the signer's issuer and serial number");
      matches = (parts) => sameBytes(parts.issuer, issuer) && sameBytes(parts.serial, serial);
    } else if (signerVersion === 3) {
      signerIdentifier = "subjectKeyIdentifier";
      const keyIdentifier = contents(bytes, signer.next(TAG.implicit0, "the signer's key identifier"));
      matches = (parts) => parts.keyIdentifier !== null && sameBytes(parts.keyIdentifier, keyIdentifier);
    } else {
      throw malformed(`a signer info of version ${signerVersion}`);
    }
    if (dataVersion !== signerVersion) {
      throw malformed(`a SignedData of version ${dataVersion} for a signer info of version ${signerVersion}`);
    }
    requireSha256(bytes, signer.next(TAG.sequence, "the signer's digest algorithm"), "the signer's digest algorithm");
    const attributes = signer.next(TAG.explicit0, "the signed attributes");
    const signatureAlgorithm = algorithm(bytes, signer.next(TAG.sequence, "the signature algorithm"), "the signature algorithm");
    if (signatureAlgorithm.name !== OID.ecdsaWithSha256 || signatureAlgorithm.parameters !== null) {
      throw unsupported(`signature algorithm ${signatureAlgorithm.name}, not ECDSA with SHA-256`);
    }
    const signatureValue = contents(bytes, signer.next(TAG.octetString, "the signature value"));
    signer.optional(TAG.explicit1, "the unsigned attributes");
    signer.done("the signer info");

    // The signed attributes (5.3, 11.1, 11.2): the content type and the message digest
    // once each; the others (signing time, signing certificate) are covered by the
    // signature and not read.
    let messageDigest = null;
    let signedContentType = null;
    for (const attribute of inside(bytes, attributes).all("a signed attribute")) {
      if (attribute.tag !== TAG.sequence) {
        throw malformed("a signed attribute is not a SEQUENCE");
      }
      const fields = inside(bytes, attribute);
      const name = oid(bytes, fields.next(TAG.oid, "a signed attribute's type"));
      const values = inside(bytes, fields.next(TAG.set, "a signed attribute's values")).all("a value");
      fields.done("a signed attribute");
      if (name !== OID.messageDigest && name !== OID.contentType) {
        continue;
      }
      const seen = name === OID.messageDigest ? messageDigest : signedContentType;
      if (seen !== null || values.length !== 1) {
        throw malformed(`the ${name === OID.messageDigest ? "message digest" : "content type"} is not signed exactly once`);
      }
      if (name === OID.messageDigest) {
        if (values[0].tag !== TAG.octetString || values[0].end - values[0].start !== 32) {
          throw malformed("the message digest is not 32 bytes");
        }
        messageDigest = contents(bytes, values[0]).slice();
      } else {
        if (values[0].tag !== TAG.oid) {
          throw malformed("the signed content type is not an object identifier");
        }
        signedContentType = oid(bytes, values[0]);
      }
    }
    if (messageDigest === null || signedContentType === null) {
      throw malformed("the message digest or the content type is not signed");
    }
    if (signedContentType !== contentType) {
      throw malformed("the signed content type is not the content's");
    }
    const signedAttributes = whole(bytes, attributes);
    signedAttributes[0] = TAG.set;

    // The signer's certificate: the one the sid names, among those held.
    const named = certificates.filter((der) => matches(certificateParts(der)));
    if (named.length === 0) {
      throw malformed("no certificate held is the signer's");
    }
    if (named.some((der) => !sameBytes(der, named[0]))) {
      throw malformed("two different certificates answer to the signer's name");
    }
    const signerCertificate = named[0];
    const spki = certificateSpki(signerCertificate);
    if (!isP256(spki)) {
      throw unsupported("the signer's key is not an ECDSA P-256 key");
    }
    const signature = derSignatureToRaw(signatureValue);
    return {
      digestAlgorithm: OID.sha256,
      signatureAlgorithm: signatureAlgorithm.name,
      contentType,
      messageDigest,
      signedAttributes,
      signature,
      signerIdentifier,
      signerCertificate,
      certificates,
      spki,
    };
  }

  globalThis.sceauCms = Object.freeze({ OID: Object.freeze(OID), parseSignedData, derSignatureToRaw, certificateSpki });
})();
