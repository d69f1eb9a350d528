"""Validates every signature of a PDF with pyHanko against one trust root.

Usage: validate.py ROOT.pem FILE.pdf [CRL.der ...]

Prints one JSON object: the number of revisions the file has and, for each embedded
signature in file order, the field's name, whether the signed bytes are intact, whether
the signature value is valid, whether the signer's certificate chains to ROOT (trusted),
the coverage (ENTIRE_FILE, ENTIRE_REVISION, ...), whether the signature time-stamp is
intact, valid and trusted, the SubFilter, and whether the changes made after it (the
incremental updates that follow) are allowed ones (docmdp_ok). Then the document
security store (how many certificates and CRLs it holds) and, under "lt", the same
signature validated with revocation checking required for end-entity certificates (the
signer's and the TSA's) and nothing fetched: only the CRLs of the store (PAdES-B-LT).
Exits 2 on a PDF pyHanko cannot read.
"""

import json
import sys
import warnings

warnings.simplefilter("ignore")

from pyhanko.keys import load_cert_from_pemder  # noqa: E402
from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402
from pyhanko.sign.validation import validate_pdf_signature  # noqa: E402
from pyhanko.sign.validation.dss import DocumentSecurityStore  # noqa: E402
from pyhanko.sign.validation.errors import NoDSSFoundError  # noqa: E402
from pyhanko_certvalidator import ValidationContext  # noqa: E402
from pyhanko_certvalidator.policy_decl import (  # noqa: E402
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)


def context(root_path, crl_paths):
    crls = []
    for path in crl_paths:
        with open(path, "rb") as crl:
            crls.append(crl.read())
    return ValidationContext(
        trust_roots=[load_cert_from_pemder(root_path)],
        crls=crls,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


def long_term_context(root_path, dss):
    """Revocation required for end-entity certificates, from the store's CRLs only."""
    policy = CertRevTrustPolicy(
        RevocationCheckingPolicy(
            ee_certificate_rule=RevocationCheckingRule.CRL_REQUIRED,
            intermediate_ca_cert_rule=RevocationCheckingRule.NO_CHECK,
        )
    )
    crls = []
    certificates = []
    if dss is not None:
        crls = [ref.get_object().data for ref in dss.crls]
        certificates = list(dss.load_certs())
    return ValidationContext(
        trust_roots=[load_cert_from_pemder(root_path)],
        other_certs=certificates,
        crls=crls,
        allow_fetching=False,
        revinfo_policy=policy,
    )


def long_term(signature, validation_context):
    try:
        status = validate_pdf_signature(
            signature,
            signer_validation_context=validation_context,
            ts_validation_context=validation_context,
        )
    except Exception as error:  # a missing CRL may surface as an exception
        return {"trusted": False, "error": str(error)}
    stamp = status.timestamp_validity
    return {
        "trusted": bool(status.intact and status.valid and status.trusted),
        "time_stamp_trusted": bool(stamp is not None and stamp.trusted),
        "summary": status.summary(),
    }


def read_store(reader):
    try:
        return DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return None


def summary(signature, validation_context):
    status = validate_pdf_signature(
        signature,
        signer_validation_context=validation_context,
        ts_validation_context=validation_context,
    )
    stamp = status.timestamp_validity
    return {
        "field": signature.field_name,
        "sub_filter": str(signature.sig_object.get("/SubFilter")),
        "intact": bool(status.intact),
        "valid": bool(status.valid),
        "trusted": bool(status.trusted),
        "coverage": status.coverage.name if status.coverage else None,
        "docmdp_ok": status.docmdp_ok,
        "time_stamp": None
        if stamp is None
        else {
            "intact": bool(stamp.intact),
            "valid": bool(stamp.valid),
            "trusted": bool(stamp.trusted),
            "time": stamp.timestamp.isoformat(),
        },
        "signing_time": status.signer_reported_dt.isoformat()
        if status.signer_reported_dt
        else None,
        "summary": status.summary(),
    }


def main():
    root_path, pdf_path, *crl_paths = sys.argv[1:]
    validation_context = context(root_path, crl_paths)
    with open(pdf_path, "rb") as pdf:
        try:
            reader = PdfFileReader(pdf, strict=True)
            signatures = list(reader.embedded_signatures)
        except Exception as error:  # what pyHanko raises on a broken file varies
            print(json.dumps({"error": str(error)}))
            sys.exit(2)
        dss = read_store(reader)
        lt_context = long_term_context(root_path, dss)
        result = {
            "revisions": reader.xrefs.total_revisions,
            "signatures": [
                dict(summary(s, validation_context), lt=long_term(s, lt_context))
                for s in signatures
            ],
            "dss": None
            if dss is None
            else {"certificates": len(dss.certs), "crls": len(dss.crls)},
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
