"""Validates every signature of a PDF with pyHanko against one trust root.

Usage: validate.py ROOT.pem FILE.pdf [CRL.der ...]

Prints one JSON object: the number of revisions the file has and, for each embedded
signature in file order, the field's name, whether the signed bytes are intact, whether
the signature value is valid, whether the signer's certificate chains to ROOT (trusted),
the coverage (ENTIRE_FILE, ENTIRE_REVISION, ...), whether the signature time-stamp is
intact, valid and trusted, the SubFilter, and whether the changes made after it (the
incremental updates that follow) are allowed ones (docmdp_ok). Exits 2 on a PDF pyHanko
cannot read.
"""

import json
import sys
import warnings

warnings.simplefilter("ignore")

from pyhanko.keys import load_cert_from_pemder  # noqa: E402
from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402
from pyhanko.sign.validation import validate_pdf_signature  # noqa: E402
from pyhanko_certvalidator import ValidationContext  # noqa: E402


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
        result = {
            "revisions": reader.xrefs.total_revisions,
            "signatures": [summary(s, validation_context) for s in signatures],
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
