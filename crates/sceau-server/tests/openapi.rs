//! The published API description (`/openapi.json`) says what the router serves: every
//! route and method is described, nothing described is missing, and every operation
//! names itself and its answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

/// The routes of `router` in lib.rs: (path as OpenAPI writes it, method).
fn routed() -> BTreeSet<(String, String)> {
    let source = include_str!("../src/lib.rs");
    let start = source.find("pub fn router(").expect("the router");
    let end = source[start..].find("\n}\n").expect("the router's end") + start;
    let router = &source[start..end];
    let mut routes = BTreeSet::new();
    let pieces: Vec<&str> = router.split(".route(").skip(1).collect();
    for piece in pieces {
        let open = piece.find('"').expect("a path") + 1;
        let close = piece[open..].find('"').expect("the path's end") + open;
        let path = piece[open..close].replace("{*", "{");
        // The handlers of this route: up to the next builder call of the router.
        let body = piece[close..]
            .split("\n        .")
            .next()
            .unwrap_or_default();
        let body = body.split(".fallback(").next().unwrap_or_default();
        let mut found = false;
        for method in ["get", "post", "put", "delete", "patch"] {
            let call = format!("{method}(");
            let mut rest = body;
            while let Some(at) = rest.find(&call) {
                let before = rest[..at].chars().last();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    routes.insert((path.clone(), method.to_owned()));
                    found = true;
                }
                rest = &rest[at + call.len()..];
            }
        }
        assert!(found, "no method found for {path}");
    }
    routes
}

/// The description's introduction names every part of the API that the paths hold (by
/// the first segment of each path), and speaks no word a newcomer does not have.
#[test]
fn the_introduction_names_every_part_of_the_api() {
    let description: serde_json::Value =
        serde_json::from_str(include_str!("../openapi.json")).expect("openapi.json is JSON");
    let introduction = description["info"]["description"].as_str().unwrap();
    let mut parts = BTreeSet::new();
    for path in description["paths"].as_object().unwrap().keys() {
        let first = path.trim_start_matches('/').split('/').next().unwrap();
        // The service's own (health, this description, the stylesheet, the home page).
        if !matches!(first, "" | "health" | "openapi.json" | "static" | "logout") {
            parts.insert(format!("/{first}"));
        }
    }
    let missing: Vec<&String> = parts
        .iter()
        .filter(|part| !introduction.contains(part.as_str()))
        .collect();
    assert!(parts.len() >= 8, "{parts:?}");
    assert_eq!(missing, Vec::<&String>::new(), "{introduction}");
    for word in [
        "numbers",
        "authorizations",
        "checkouts",
        "evidence",
        "signatures",
        "time-stamps",
        "log",
        "clearing",
    ] {
        assert!(introduction.contains(word), "{word:?} in {introduction}");
    }
    let whole = include_str!("../openapi.json");
    for word in ["Figure", "white room", "capability "] {
        assert!(!whole.contains(word), "{word:?} in openapi.json");
    }
}

#[test]
fn the_description_covers_every_route_and_only_them() {
    let description: serde_json::Value =
        serde_json::from_str(include_str!("../openapi.json")).expect("openapi.json is JSON");
    assert!(
        description["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    let mut described = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in description["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if method == "parameters" {
                continue;
            }
            described.insert((path.clone(), method.clone()));
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                operation_ids.insert(id.to_owned()),
                "operationId {id} twice"
            );
            let responses = operation["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} has no responses"));
            assert!(!responses.is_empty(), "{method} {path}: no responses");
        }
    }
    let routed = routed();
    assert!(routed.len() > 40, "the router was read: {routed:?}");
    let undescribed: Vec<_> = routed.difference(&described).collect();
    let unrouted: Vec<_> = described.difference(&routed).collect();
    assert!(
        undescribed.is_empty(),
        "routes missing from openapi.json: {undescribed:?}"
    );
    assert!(
        unrouted.is_empty(),
        "openapi.json describes what is not routed: {unrouted:?}"
    );
    // Every reference resolves.
    let text = include_str!("../openapi.json");
    for reference in text.split("\"$ref\": \"#/").skip(1) {
        let pointer = reference.split('"').next().unwrap();
        assert!(
            description.pointer(&format!("/{pointer}")).is_some(),
            "unresolved $ref #/{pointer}"
        );
    }
}

/// What each route can refuse, by code (with its status first where the code has more
/// than one: `"402 blocked"`). Every route is here, every refusal of the code
/// (`sceau_app::error::every_refusal`, `error::HTTP_REFUSALS`) is under at least one
/// route, and openapi.json lists each under its route and status: a new route, a new
/// refusal or a refusal added here fails the test until openapi.json says it.
const ROUTE_ERRORS: &[(&str, &str, &[&str])] = &[
    (
        "post",
        "/v1/webhook-secret",
        &[
            "400 invalid_field",
            "422 invalid_field",
            "idempotency_key_reused",
            "invalid_json",
            "unreadable_body",
            "unauthorized",
            "body_too_large",
            "unsupported_media_type",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/v1/numbers",
        &[
            "400 invalid_field",
            "invalid_json",
            "unreadable_body",
            "unauthorized",
            "unknown_client",
            "body_too_large",
            "unsupported_media_type",
            "422 amount_not_positive",
            "422 amount_too_large",
            "422 currency_mismatch",
            "idempotency_key_reused",
            "invalid_amount",
            "invalid_validity",
            "too_many_decimals",
            "unknown_currency",
            "too_many_clients",
            "too_many_messages",
            "too_many_numbers",
            "number_space_exhausted",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "post",
        "/v1/authorizations",
        &[
            "idempotency_key_in_flight",
            "400 invalid_field",
            "invalid_idempotency_key",
            "invalid_json",
            "unreadable_body",
            "unauthorized",
            "already_used",
            "amount_mismatch",
            "402 blocked",
            "402 currency_mismatch",
            "expired",
            "insufficient_funds",
            "other_merchant",
            "over_cap",
            "unknown_number",
            "wrong_card_details",
            "number_changed_concurrently",
            "body_too_large",
            "unsupported_media_type",
            "422 amount_not_positive",
            "422 amount_too_large",
            "idempotency_key_reused",
            "invalid_amount",
            "invalid_expiry",
            "invalid_number",
            "invalid_reference",
            "invalid_security_code",
            "too_many_decimals",
            "unknown_currency",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "get",
        "/v1/authorizations/{id}",
        &[
            "unauthorized",
            "authorization_not_found",
            "not_found",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/v1/authorizations/{id}/capture",
        &[
            "authorization_of_checkout",
            "idempotency_key_in_flight",
            "400 invalid_field",
            "invalid_idempotency_key",
            "invalid_json",
            "unauthorized",
            "authorization_not_found",
            "not_found",
            "already_captured",
            "authorization_changed_concurrently",
            "authorization_expired",
            "authorization_voided",
            "body_too_large",
            "unsupported_media_type",
            "amount_exceeds_authorized",
            "422 amount_not_positive",
            "422 amount_too_large",
            "422 currency_mismatch",
            "idempotency_key_reused",
            "invalid_amount",
            "too_many_decimals",
            "unknown_currency",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "post",
        "/v1/authorizations/{id}/void",
        &[
            "authorization_of_checkout",
            "idempotency_key_in_flight",
            "400 invalid_field",
            "invalid_idempotency_key",
            "invalid_json",
            "unauthorized",
            "authorization_not_found",
            "not_found",
            "already_captured",
            "authorization_changed_concurrently",
            "authorization_expired",
            "authorization_voided",
            "body_too_large",
            "unsupported_media_type",
            "idempotency_key_reused",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "post",
        "/v1/authorizations/{id}/refunds",
        &[
            "authorization_of_checkout",
            "idempotency_key_in_flight",
            "400 invalid_field",
            "invalid_idempotency_key",
            "invalid_json",
            "unauthorized",
            "authorization_not_found",
            "not_found",
            "authorization_changed_concurrently",
            "not_captured",
            "body_too_large",
            "unsupported_media_type",
            "amount_exceeds_refundable",
            "422 amount_not_positive",
            "422 amount_too_large",
            "422 currency_mismatch",
            "idempotency_key_reused",
            "invalid_amount",
            "too_many_decimals",
            "unknown_currency",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "post",
        "/admin/v1/clients",
        &[
            "400 invalid_field",
            "invalid_json",
            "unreadable_body",
            "unauthorized",
            "login_taken",
            "phone_taken",
            "body_too_large",
            "unsupported_media_type",
            "422 amount_not_positive",
            "422 amount_too_large",
            "invalid_amount",
            "422 invalid_field",
            "invalid_phone",
            "too_many_decimals",
            "unknown_currency",
            "weak_password",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/admin/v1/clients",
        &["unauthorized", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/admin/v1/clients/{id}",
        &["unauthorized", "not_found", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/admin/v1/clients/{id}/block",
        &["unauthorized", "not_found", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/admin/v1/clients/{id}/unblock",
        &["unauthorized", "not_found", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/admin/v1/merchants",
        &[
            "incomplete_bank_details",
            "400 invalid_field",
            "invalid_json",
            "unreadable_body",
            "unauthorized",
            "api_key_taken",
            "body_too_large",
            "unsupported_media_type",
            "422 invalid_field",
            "store_unavailable",
            "internal",
            "iban_checksum",
            "iban_length",
            "invalid_bic",
            "invalid_iban",
            "unknown_bic_country",
            "unknown_iban_country",
        ],
    ),
    (
        "get",
        "/admin/v1/merchants",
        &["unauthorized", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/admin/v1/ledger/check",
        &["unauthorized", "store_unavailable", "internal"],
    ),
    ("get", "/", &[]),
    ("get", "/login", &[]),
    ("get", "/admin", &["store_unavailable", "internal"]),
    ("get", "/admin/login", &[]),
    (
        "post",
        "/admin/login",
        &[
            "invalid_form",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/admin/logout",
        &[
            "invalid_form",
            "csrf",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/admin/merchants",
        &[
            "invalid_form",
            "csrf",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "get",
        "/admin/merchants/{id}",
        &["not_found", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/admin/merchants/{id}/webhook-secret",
        &[
            "invalid_form",
            "csrf",
            "not_found",
            "422 invalid_field",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/admin/checkouts",
        &[
            "invalid_form",
            "csrf",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "get",
        "/admin/checkouts/{id}",
        &["checkout_not_found", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/admin/numbers",
        &[
            "invalid_form",
            "csrf",
            "unknown_client",
            "422 invalid_field",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    ("get", "/admin/messages", &["store_unavailable", "internal"]),
    (
        "post",
        "/admin/messages",
        &[
            "invalid_form",
            "csrf",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "get",
        "/admin/messages/{id}",
        &["not_found", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/admin/clearing/batches",
        &["store_unavailable", "internal"],
    ),
    (
        "post",
        "/admin/clearing/batches",
        &[
            "invalid_form",
            "csrf",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "get",
        "/admin/clearing/batches/{id}",
        &["not_found", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/admin/certificates",
        &[
            "invalid_form",
            "csrf",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "get",
        "/admin/certificates/{serial}",
        &["unknown_certificate", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/admin/certificates/{serial}/revoke",
        &[
            "invalid_form",
            "csrf",
            "unknown_certificate",
            "422 invalid_field",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/admin/envelopes",
        &[
            "invalid_form",
            "csrf",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "get",
        "/admin/envelopes/{id}",
        &["unknown_envelope", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/admin/deliveries",
        &[
            "invalid_form",
            "csrf",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "get",
        "/admin/deliveries/{id}",
        &["unknown_delivery", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/admin/clients",
        &[
            "invalid_form",
            "csrf",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "get",
        "/admin/clients/{id}",
        &["unknown_client", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/admin/clients/{id}/block",
        &[
            "invalid_form",
            "csrf",
            "unknown_client",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/admin/clients/{id}/unblock",
        &[
            "invalid_form",
            "csrf",
            "unknown_client",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/login",
        &[
            "invalid_form",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/logout",
        &[
            "invalid_form",
            "csrf",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "get",
        "/wallet",
        &["400 invalid_field", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/wallet/numbers",
        &[
            "400 invalid_field",
            "invalid_form",
            "403 blocked",
            "csrf",
            "422 amount_not_positive",
            "422 amount_too_large",
            "invalid_amount",
            "invalid_uses",
            "invalid_validity",
            "too_many_decimals",
            "unknown_currency",
            "too_many_messages",
            "too_many_numbers",
            "number_space_exhausted",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/wallet/reach",
        &[
            "400 invalid_field",
            "invalid_form",
            "403 csrf",
            "409 calls_unavailable",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "get",
        "/api/v1/me",
        &["store_unavailable", "internal", "unauthorized"],
    ),
    (
        "get",
        "/api/v1/me/payments",
        &[
            "400 invalid_field",
            "store_unavailable",
            "internal",
            "unauthorized",
        ],
    ),
    (
        "get",
        "/phone",
        &[
            "not_found",
            "invalid_query",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/mailbox",
        &[
            "not_found",
            "invalid_query",
            "store_unavailable",
            "internal",
        ],
    ),
    ("get", "/static/sceau.css", &[]),
    ("get", "/static/sha256.js", &[]),
    ("get", "/static/notary.js", &[]),
    ("get", "/static/cms.js", &[]),
    ("get", "/static/delivery.js", &[]),
    ("get", "/health", &[]),
    (
        "get",
        "/metrics",
        &[
            "unauthorized",
            "store_unavailable",
            "metrics_unavailable",
            "internal",
        ],
    ),
    ("get", "/openapi.json", &[]),
    (
        "post",
        "/v1/checkouts",
        &[
            "invalid_idempotency_key",
            "invalid_json",
            "unreadable_body",
            "unauthorized",
            "422 amount_not_positive",
            "422 amount_too_large",
            "idempotency_key_reused",
            "invalid_amount",
            "422 invalid_field",
            "invalid_url",
            "invalid_validity",
            "too_many_decimals",
            "unknown_currency",
            "store_unavailable",
            "internal",
            "400 invalid_field",
            "body_too_large",
            "unsupported_media_type",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "get",
        "/v1/checkouts/{id}",
        &[
            "unauthorized",
            "checkout_not_found",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/pay/{id}",
        &["checkout_not_found", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/pay/{id}/sign-in",
        &[
            "client_paused",
            "too_many_checkouts",
            "checkout_expired",
            "checkout_changed_concurrently",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/pay/{id}/hold",
        &[
            "unauthorized",
            "client_paused",
            "too_many_checkouts",
            "checkout_expired",
            "checkout_changed_concurrently",
            "checkout_of_another_client",
            "csrf",
            "checkout_state",
            "no_seals_left",
            "seal_cooldown",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/pay/{id}/validate",
        &[
            "unauthorized",
            "checkout_expired",
            "checkout_of_another_client",
            "csrf",
            "checkout_state",
            "no_seals_left",
            "seal_cooldown",
            "too_many_messages",
            "too_many_seals",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/pay/{id}/resend",
        &[
            "unauthorized",
            "checkout_expired",
            "checkout_of_another_client",
            "csrf",
            "checkout_state",
            "no_seals_left",
            "seal_cooldown",
            "too_many_messages",
            "too_many_seals",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/pay/{id}/seal",
        &[
            "no_live_seal",
            "checkout_changed_concurrently",
            "checkout_expired",
            "unauthorized",
            "csrf",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
            "body_too_large",
        ],
    ),
    (
        "post",
        "/pay/{id}/cancel",
        &[
            "unauthorized",
            "csrf",
            "checkout_not_found",
            "checkout_of_another_client",
            "checkout_state",
            "checkout_expired",
            "checkout_changed_concurrently",
            "authorization_changed_concurrently",
            "evidence_changed_concurrently",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
    (
        "get",
        "/pay/{id}/check.svg",
        &[
            "store_unavailable",
            "internal",
            "checkout_not_found",
            "not_found",
        ],
    ),
    (
        "get",
        "/pay/{id}/check.pdf",
        &[
            "store_unavailable",
            "internal",
            "checkout_not_found",
            "not_found",
        ],
    ),
    (
        "put",
        "/admin/v1/merchants/{id}/bank",
        &[
            "not_found",
            "iban_checksum",
            "iban_length",
            "invalid_bic",
            "invalid_iban",
            "unknown_bic_country",
            "unknown_iban_country",
            "400 invalid_field",
            "invalid_json",
            "unreadable_body",
            "body_too_large",
            "unsupported_media_type",
            "unauthorized",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/admin/v1/clearing/batches",
        &[
            "no_transfers",
            "too_many_transfers",
            "too_many_payment_blocks",
            "409 amount_not_positive",
            "409 amount_too_large",
            "control_sum_too_large",
            "text_too_long",
            "text_empty",
            "invalid_identifier",
            "duplicate_end_to_end_id",
            "invalid_timestamp",
            "execution_before_creation",
            "issuer_bank_missing",
            "nothing_to_clear",
            "unknown_currency",
            "400 invalid_field",
            "invalid_json",
            "unreadable_body",
            "body_too_large",
            "unsupported_media_type",
            "unauthorized",
            "store_unavailable",
            "internal",
            "message_id_taken",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "get",
        "/admin/v1/clearing/batches",
        &["unauthorized", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/admin/v1/clearing/batches/{id}",
        &["not_found", "unauthorized", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/admin/v1/clearing/batches/{id}/pain.001.xml",
        &["not_found", "unauthorized", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/tsa",
        &[
            "body_too_large",
            "unsupported_media_type",
            "pki_unavailable",
        ],
    ),
    ("get", "/pki/root.pem", &["pki_unavailable"]),
    ("get", "/pki/issuing.pem", &["pki_unavailable"]),
    ("get", "/pki/tsa.pem", &["pki_unavailable"]),
    (
        "get",
        "/pki/issuing.crl",
        &["pki_unavailable", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/api/v1/signatures",
        &[
            "invalid_query",
            "403 blocked",
            "client_stopped",
            "csrf",
            "no_certificate",
            "body_too_large",
            "invalid_document",
            "invalid_document_name",
            "too_many_messages",
            "too_many_signatures",
            "unauthorized",
            "store_unavailable",
            "notary_unavailable",
            "pki_unavailable",
            "uploads_busy",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "get",
        "/api/v1/signatures",
        &["unauthorized", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/api/v1/signatures/{id}",
        &[
            "unknown_signature",
            "unauthorized",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/api/v1/signatures/{id}/seal",
        &[
            "403 blocked",
            "client_stopped",
            "csrf",
            "unknown_signature",
            "certificate_not_valid",
            "not_awaiting_seal",
            "signature_failed",
            "seal_expired",
            "unsupported_media_type",
            "wrong_seal",
            "unauthorized",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "get",
        "/api/v1/signatures/{id}/signature.p7s",
        &[
            "unknown_signature",
            "not_signed",
            "unauthorized",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/api/v1/envelopes",
        &[
            "csrf",
            "client_stopped",
            "no_certificate",
            "invalid_station_key",
            "invalid_lifetime",
            "unsupported_media_type",
            "body_too_large",
            "unauthorized",
            "notary_unavailable",
            "pki_unavailable",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "get",
        "/api/v1/envelopes",
        &["unauthorized", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/api/v1/envelopes/{id}",
        &[
            "unknown_envelope",
            "unauthorized",
            "archive_damaged",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/api/v1/envelopes/{id}/manifest",
        &[
            "csrf",
            "unknown_envelope",
            "envelope_state",
            "envelope_expired",
            "manifest_invalid",
            "manifest_not_for_this_envelope",
            "manifest_signature_invalid",
            "certificate_unusable",
            "unsupported_media_type",
            "body_too_large",
            "unauthorized",
            "notary_unavailable",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "put",
        "/api/v1/envelopes/{id}/files/{index}",
        &[
            "csrf",
            "unknown_envelope",
            "unknown_file",
            "upload_incomplete",
            "envelope_state",
            "file_already_received",
            "envelope_expired",
            "file_size_mismatch",
            "file_digest_mismatch",
            "certificate_unusable",
            "no_certificate",
            "uploads_busy",
            "too_many_uploads",
            "unauthorized",
            "notary_unavailable",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "get",
        "/api/v1/envelopes/{id}/files/{index}",
        &[
            "unknown_envelope",
            "unknown_file",
            "envelope_state",
            "archive_deleted",
            "archive_damaged",
            "unauthorized",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/api/v1/envelopes/{id}/files/{index}/signature.p7s",
        &[
            "unknown_envelope",
            "unknown_file",
            "not_signed",
            "unauthorized",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/api/v1/envelopes/{id}/files/{index}/signed.pdf",
        &[
            "unknown_envelope",
            "unknown_file",
            "not_signed",
            "archive_deleted",
            "archive_damaged",
            "unauthorized",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/api/v1/envelopes/{id}/container.asice",
        &[
            "unknown_envelope",
            "not_signed",
            "archive_deleted",
            "archive_damaged",
            "unauthorized",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/api/v1/envelopes/{id}/evidence",
        &[
            "unauthorized",
            "unknown_envelope",
            "log_empty",
            "envelope_state",
            "evidence_pending",
            "archive_damaged",
            "internal",
            "store_unavailable",
            "notary_unavailable",
            "pki_unavailable",
        ],
    ),
    (
        "post",
        "/api/v1/envelopes/{id}/seal",
        &[
            "csrf",
            "client_stopped",
            "unknown_envelope",
            "not_awaiting_seal",
            "envelope_failed",
            "seal_expired",
            "wrong_seal",
            "unsupported_media_type",
            "body_too_large",
            "unauthorized",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "post",
        "/api/v1/envelopes/{id}/seal/resend",
        &[
            "csrf",
            "client_stopped",
            "unknown_envelope",
            "not_awaiting_seal",
            "no_certificate",
            "too_many_signatures",
            "too_many_messages",
            "unauthorized",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "get",
        "/wallet/signatures",
        &["store_unavailable", "internal"],
    ),
    (
        "post",
        "/wallet/signatures",
        &[
            "invalid_form",
            "csrf",
            "no_certificate",
            "too_many_messages",
            "too_many_signatures",
            "store_unavailable",
            "uploads_busy",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "get",
        "/wallet/signatures/{id}",
        &["unknown_signature", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/wallet/envelopes",
        &["store_unavailable", "internal"],
    ),
    (
        "get",
        "/wallet/envelopes/new",
        &["notary_unavailable", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/wallet/envelopes/{id}",
        &[
            "unknown_envelope",
            "archive_damaged",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/api/v1/envelopes/{id}/deliveries",
        &[
            "unauthorized",
            "csrf",
            "client_stopped",
            "unknown_envelope",
            "envelope_state",
            "422 invalid_field",
            "422 invalid_phone",
            "no_recipients",
            "too_many_recipients",
            "recipient_twice",
            "phone_mismatch",
            "invalid_deadline",
            "archive_damaged",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/api/v1/envelopes/{id}/deliveries",
        &[
            "unauthorized",
            "unknown_envelope",
            "archive_damaged",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/api/v1/deliveries/{id}",
        &[
            "unauthorized",
            "unknown_delivery",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/api/v1/deliveries/{id}/recipients/{index}/receipt",
        &[
            "unauthorized",
            "unknown_delivery",
            "evidence_pending",
            "log_empty",
            "pki_unavailable",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/wallet/deliveries/{id}",
        &["unknown_delivery", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/d/{token}",
        &["unknown_delivery", "store_unavailable", "internal"],
    ),
    (
        "post",
        "/d/{token}/code",
        &[
            "unknown_delivery",
            "delivery_over",
            "recipient_state",
            "delivery_expired",
            "recipient_paused",
            "too_many_codes",
            "429 too_many_seals",
            "429 too_many_messages",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/d/{token}/session",
        &[
            "unknown_delivery",
            "wrong_code",
            "code_expired",
            "delivery_over",
            "delivery_expired",
            "recipient_paused",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/d/{token}/files",
        &["unknown_delivery", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/d/{token}/delivery.json",
        &[
            "recipient_signed_out",
            "unknown_delivery",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/d/{token}/withdrawal",
        &[
            "recipient_signed_out",
            "csrf",
            "unknown_delivery",
            "delivery_over",
            "not_authenticated",
            "too_many_withdrawals",
            "delivery_expired",
            "422 invalid_field",
            "pki_unavailable",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/d/{token}/files/{index}",
        &[
            "recipient_signed_out",
            "unknown_delivery",
            "unknown_file",
            "not_withdrawn",
            "archive_deleted",
            "archive_damaged",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/d/{token}/files/{index}/signature.p7s",
        &[
            "recipient_signed_out",
            "unknown_delivery",
            "unknown_file",
            "not_withdrawn",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/d/{token}/answer",
        &[
            "recipient_signed_out",
            "csrf",
            "unknown_delivery",
            "digests_differ",
            "withdrawal_certificate_unusable",
            "not_withdrawn",
            "delivery_over",
            "delivery_expired",
            "invalid_answer",
            "answer_signature_invalid",
            "pki_unavailable",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/wallet/envelopes/{id}/deliveries",
        &[
            "invalid_form",
            "body_too_large",
            "csrf",
            "client_stopped",
            "unknown_envelope",
            "envelope_state",
            "422 invalid_field",
            "422 invalid_phone",
            "no_recipients",
            "too_many_recipients",
            "recipient_twice",
            "phone_mismatch",
            "invalid_deadline",
            "archive_damaged",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/wallet/envelopes/{id}/seal",
        &[
            "invalid_form",
            "body_too_large",
            "csrf",
            "client_stopped",
            "unknown_envelope",
            "not_awaiting_seal",
            "wrong_seal",
            "seal_expired",
            "archive_damaged",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "post",
        "/wallet/envelopes/{id}/resend",
        &[
            "invalid_form",
            "body_too_large",
            "csrf",
            "client_stopped",
            "unknown_envelope",
            "not_awaiting_seal",
            "no_certificate",
            "too_many_signatures",
            "too_many_messages",
            "archive_damaged",
            "store_unavailable",
            "internal",
            "evidence_changed_concurrently",
        ],
    ),
    (
        "get",
        "/log/checkpoint",
        &["log_empty", "store_unavailable", "internal"],
    ),
    ("get", "/log/key", &[]),
    (
        "get",
        "/log/entries/{index}",
        &["no_entry", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/log/proof/inclusion",
        &["invalid_query", "no_proof", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/log/proof/consistency",
        &["invalid_query", "no_proof", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/log/tile/{path}",
        &["no_tile", "store_unavailable", "internal"],
    ),
    (
        "get",
        "/v1/checkouts/{id}/evidence",
        &[
            "checkout_not_paid",
            "unauthorized",
            "checkout_not_found",
            "certificate_not_valid",
            "evidence_pending",
            "no_certificate",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "get",
        "/api/v1/payments/{id}/evidence",
        &[
            "unauthorized",
            "checkout_not_found",
            "certificate_not_valid",
            "checkout_not_paid",
            "evidence_pending",
            "no_certificate",
            "store_unavailable",
            "internal",
        ],
    ),
    ("get", "/login/unlock", &[]),
    (
        "get",
        "/admin/v1/messages",
        &[
            "invalid_query",
            "unauthorized",
            "store_unavailable",
            "internal",
        ],
    ),
    (
        "post",
        "/channel/{route}/status",
        &[
            "callback_malformed",
            "callback_bad_signature",
            "callback_stale",
            "callback_not_configured",
            "unknown_route",
            "busy",
            "body_too_large",
            "unreadable_body",
        ],
    ),
    (
        "post",
        "/login/unlock",
        &[
            "invalid_form",
            "store_unavailable",
            "internal",
            "body_too_large",
        ],
    ),
];

/// Refusals that only the CLI meets (`sceau admin certificate-*`, the configuration): no
/// route answers them.
const CLI_ONLY: &[&str] = &[
    "certificate_key_taken",
    "certificate_serial_taken",
    "unknown_certificate",
    "certificate_used",
    "certificate_expired",
    "certificate_not_yet_valid",
    "certificate_revoked",
    "not_disposable",
    "no_holder_certificate",
    "no_phone_number",
    "invalid_lifetime",
    "invalid_bin_range",
];

/// Every (status, code) the code can answer: a use case's refusals with the status
/// error.rs gives them, and the refusals of HTTP itself.
fn refusals() -> BTreeSet<(u16, String)> {
    let mut all: BTreeSet<(u16, String)> = sceau_app::error::every_refusal()
        .iter()
        .map(|error| {
            let status = sceau_server::error::status(error).as_u16();
            (status, error.code().to_owned())
        })
        .collect();
    for (status, code) in sceau_server::error::HTTP_REFUSALS {
        all.insert((*status, (*code).to_owned()));
    }
    all
}

/// The (status, code) an entry of [`ROUTE_ERRORS`] names.
fn resolve(entry: &str, refusals: &BTreeSet<(u16, String)>) -> (u16, String) {
    let (status, code) = match entry.split_once(' ') {
        Some((status, code)) => (Some(status.parse::<u16>().expect("a status")), code),
        None => (None, entry),
    };
    let statuses: Vec<u16> = refusals
        .iter()
        .filter(|(_, known)| known == code)
        .map(|(status, _)| *status)
        .collect();
    match status {
        Some(status) => {
            assert!(
                statuses.contains(&status),
                "{entry}: the code never answers {status}"
            );
            (status, code.to_owned())
        }
        None => {
            assert_eq!(
                statuses.len(),
                1,
                "{code}: no such code, or answered with several statuses ({statuses:?}): write \"STATUS {code}\""
            );
            (statuses[0], code.to_owned())
        }
    }
}

/// The words of a response's description and examples (a `$ref` followed).
fn response_words(
    description: &serde_json::Value,
    response: &serde_json::Value,
) -> BTreeSet<String> {
    let response = match response["$ref"].as_str() {
        Some(reference) => description
            .pointer(reference.trim_start_matches('#'))
            .expect("a resolved $ref"),
        None => response,
    };
    response
        .to_string()
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_refusal_of_every_route_is_described() {
    let description: serde_json::Value =
        serde_json::from_str(include_str!("../openapi.json")).expect("openapi.json is JSON");
    let refusals = refusals();
    let tabled: BTreeSet<(String, String)> = ROUTE_ERRORS
        .iter()
        .map(|(method, path, _)| ((*path).to_owned(), (*method).to_owned()))
        .collect();
    assert_eq!(
        tabled.len(),
        ROUTE_ERRORS.len(),
        "a route twice in ROUTE_ERRORS"
    );
    let routed = routed();
    let untabled: Vec<_> = routed.difference(&tabled).collect();
    let unrouted: Vec<_> = tabled.difference(&routed).collect();
    assert!(
        untabled.is_empty(),
        "routes missing from ROUTE_ERRORS: {untabled:?}"
    );
    assert!(
        unrouted.is_empty(),
        "ROUTE_ERRORS names what is not routed: {unrouted:?}"
    );
    let mut used = BTreeSet::new();
    let mut missing = Vec::new();
    for (method, path, entries) in ROUTE_ERRORS {
        let distinct: BTreeSet<&&str> = entries.iter().collect();
        assert_eq!(
            distinct.len(),
            entries.len(),
            "{method} {path}: an entry twice"
        );
        let operation = &description["paths"][*path][*method];
        for entry in *entries {
            let (status, code) = resolve(entry, &refusals);
            used.insert((status, code.clone()));
            let response = &operation["responses"][status.to_string()];
            if response.is_null() || !response_words(&description, response).contains(&code) {
                missing.push(format!("{method} {path}: {status} {code}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "openapi.json does not say:\n{}",
        missing.join("\n")
    );
    let unused: Vec<_> = refusals
        .difference(&used)
        .filter(|(_, code)| !CLI_ONLY.contains(&code.as_str()))
        .collect();
    assert!(
        unused.is_empty(),
        "refusals no route of ROUTE_ERRORS names: {unused:?}"
    );
}
