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
