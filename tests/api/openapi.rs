//! `/openapi.json`: complete, and generated from the routes actually served.

use reqwest::StatusCode;
use serde_json::Value;

use crate::on_both_backends;
use crate::support::{spawn_app, status_and_json, Backend};

on_both_backends!(
    the_document_is_openapi_3_1_and_lists_every_contract_route,
    every_documented_operation_is_served,
    bearer_security_is_declared_exactly_on_protected_routes,
);

/// The routes of `docs/api.md` (the document itself and its page included).
const CONTRACT: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/docs/{file}"),
    ("post", "/auth/register"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/logout"),
    ("post", "/auth/password-reset"),
    ("post", "/auth/password-reset/confirm"),
    ("post", "/auth/email-verification/confirm"),
    ("post", "/api/profile/email-verification"),
    ("post", "/api/admin/users/{id}/password-reset"),
    ("post", "/auth/mfa"),
    ("post", "/api/profile/mfa/totp"),
    ("post", "/api/profile/mfa/totp/confirm"),
    ("post", "/api/profile/mfa/recovery-codes"),
    ("post", "/api/profile/mfa/disable"),
    ("delete", "/api/admin/users/{id}/mfa"),
    ("get", "/.well-known/jwks.json"),
    ("post", "/oauth/revoke"),
    ("post", "/oauth/introspect"),
    ("post", "/api/admin/api-keys"),
    ("get", "/api/admin/api-keys"),
    ("delete", "/api/admin/api-keys/{id}"),
    ("get", "/api/admin/keys"),
    ("post", "/api/admin/keys/rotate"),
    ("get", "/api/profile"),
    ("post", "/api/profile/password"),
    ("get", "/api/sessions"),
    ("delete", "/api/sessions/{id}"),
    ("get", "/api/admin/users"),
    ("post", "/api/admin/users"),
    ("get", "/api/admin/users/{id}"),
    ("patch", "/api/admin/users/{id}"),
    ("delete", "/api/admin/users/{id}"),
    ("post", "/api/admin/users/{id}/revoke-sessions"),
    ("post", "/api/admin/users/{id}/unlock"),
    ("get", "/api/admin/audit"),
    ("get", "/api/admin/stats"),
    ("get", "/api/admin/roles"),
    ("post", "/api/admin/roles"),
    ("get", "/api/admin/roles/{name}"),
    ("patch", "/api/admin/roles/{name}"),
    ("delete", "/api/admin/roles/{name}"),
    ("get", "/api/admin/permissions"),
];

/// The permission each admin operation's guard checks (docs/api.md, "Roles and
/// permissions"); several mean any of them, the handler deciding the rest.
pub const ADMIN_PERMISSIONS: &[(&str, &str, &[&str])] = &[
    ("get", "/api/admin/users", &["users:read"]),
    ("post", "/api/admin/users", &["users:write"]),
    ("get", "/api/admin/users/{id}", &["users:read"]),
    (
        "patch",
        "/api/admin/users/{id}",
        &["users:write", "roles:manage"],
    ),
    ("delete", "/api/admin/users/{id}", &["users:delete"]),
    (
        "post",
        "/api/admin/users/{id}/revoke-sessions",
        &["sessions:revoke"],
    ),
    ("post", "/api/admin/users/{id}/unlock", &["users:unlock"]),
    (
        "post",
        "/api/admin/users/{id}/password-reset",
        &["users:write"],
    ),
    ("delete", "/api/admin/users/{id}/mfa", &["users:write"]),
    ("get", "/api/admin/keys", &["keys:manage"]),
    ("post", "/api/admin/keys/rotate", &["keys:manage"]),
    ("post", "/api/admin/api-keys", &["keys:manage"]),
    ("get", "/api/admin/api-keys", &["keys:manage"]),
    ("delete", "/api/admin/api-keys/{id}", &["keys:manage"]),
    ("get", "/api/admin/audit", &["audit:read"]),
    ("get", "/api/admin/stats", &["users:read"]),
    ("get", "/api/admin/roles", &["roles:read"]),
    ("post", "/api/admin/roles", &["roles:manage"]),
    ("get", "/api/admin/roles/{name}", &["roles:read"]),
    ("patch", "/api/admin/roles/{name}", &["roles:manage"]),
    ("delete", "/api/admin/roles/{name}", &["roles:manage"]),
    ("get", "/api/admin/permissions", &["roles:read"]),
];

#[test]
fn every_admin_operation_declares_the_permission_of_the_contract() {
    let doc = printed_document();
    for (method, path, op) in operations(&doc) {
        if path == "/oauth/introspect" {
            assert_eq!(op["x-permission"], serde_json::json!(["tokens:introspect"]));
            continue;
        }
        if !path.starts_with("/api/admin") {
            assert!(op.get("x-permission").is_none(), "{method} {path}");
            continue;
        }
        let want = ADMIN_PERMISSIONS
            .iter()
            .find(|(m, p, _)| *m == method && *p == path)
            .unwrap_or_else(|| panic!("{method} {path} is not in ADMIN_PERMISSIONS"));
        assert_eq!(
            op["x-permission"],
            serde_json::json!(want.2),
            "{method} {path}"
        );
        assert!(
            op["responses"].get("403").is_some(),
            "{method} {path} lacks 403"
        );
    }
}

async fn document(app: &crate::support::TestApp) -> Value {
    let (status, doc) = status_and_json(app.get("/openapi.json", None).await).await;
    assert_eq!(status, StatusCode::OK);
    doc
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

async fn the_document_is_openapi_3_1_and_lists_every_contract_route(b: Backend) {
    let app = spawn_app(b).await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let mut documented: Vec<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let mut expected: Vec<(String, String)> = CONTRACT
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    expected.sort();
    assert_eq!(documented, expected);
    for (method, path, op) in operations(&doc) {
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

/// The other half of completeness: a route that bypassed the documented
/// registration (`.route(...)`, a plain actix `web::resource`/`web::scope`) would be
/// served without being documented, so none may exist.
#[test]
fn no_route_is_registered_outside_the_documented_path() {
    fn scan(dir: &std::path::Path, hits: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, hits);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    for needle in [
                        ".route(",
                        "web::resource(",
                        "web::scope(",
                        "Resource::new(",
                        "Scope::new(",
                    ] {
                        if code.contains(needle) {
                            hits.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                        }
                    }
                }
            }
        }
    }
    let mut hits = Vec::new();
    scan(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        &mut hits,
    );
    assert!(
        hits.is_empty(),
        "undocumented route registration:\n{}",
        hits.join("\n")
    );
}

async fn every_documented_operation_is_served(b: Backend) {
    let app = spawn_app(b).await;
    let doc = document(&app).await;
    for (method, path, _) in operations(&doc) {
        let url = app.url(&path.replace("{id}", "1"));
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let res = app
            .client
            .request(method.clone(), url)
            .send()
            .await
            .unwrap();
        let (status, body) = status_and_json(res).await;
        let unrouted = status == StatusCode::NOT_FOUND && body["message"] == "route not found";
        assert!(!unrouted, "{method} {path} is documented but not served");
    }
}

/// The document as `turnstile openapi` prints it (the same one `/openapi.json` serves).
fn printed_document() -> Value {
    let doc = turnstile::routes::openapi_document().to_json().unwrap();
    serde_json::from_str(&doc).unwrap()
}

#[test]
fn every_answer_is_described_and_every_error_is_the_envelope() {
    let doc = printed_document();
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let what = format!("{method} {path} {status}");
            let description = response["description"].as_str().unwrap_or("");
            assert!(!description.is_empty(), "{what} has no description");
            if status.starts_with('4') || status.starts_with('5') {
                // Login's 401 is the envelope plus the second step's token.
                let envelope = match (path.as_str(), status.as_str()) {
                    ("/auth/login", "401") => "#/components/schemas/LoginRefusal",
                    _ => "#/components/schemas/ErrorBody",
                };
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"], envelope,
                    "{what}"
                );
            }
            let header = |name: &str| response["headers"].get(name).is_some();
            match status.as_str() {
                "429" | "503" => assert!(header("Retry-After"), "{what} lacks Retry-After"),
                "401" if op["security"].as_array().is_some_and(|s| !s.is_empty()) => {
                    assert!(header("WWW-Authenticate"), "{what} lacks WWW-Authenticate")
                }
                _ => {}
            }
        }
    }
}

#[test]
fn every_reference_resolves() {
    let doc = printed_document();
    fn walk(v: &Value, doc: &Value, refs: &mut usize) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let pointer = r.trim_start_matches('#');
                    assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
                    *refs += 1;
                }
                map.values().for_each(|v| walk(v, doc, refs));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, doc, refs)),
            _ => {}
        }
    }
    let mut refs = 0;
    walk(&doc, &doc, &mut refs);
    assert!(refs > 50, "only {refs} references");
}

#[test]
fn operation_ids_are_unique_and_name_what_they_do() {
    let doc = printed_document();
    let mut seen = std::collections::HashSet::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_default().to_string();
        let bare_verb = [
            "get", "list", "create", "update", "delete", "revoke", "post",
        ];
        let camel = id.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && !id.contains('_');
        assert!(
            camel && !bare_verb.contains(&id.as_str()),
            "{method} {path}: operationId {id:?} is not a descriptive camelCase name"
        );
        assert!(seen.insert(id.clone()), "{id} is used twice");
    }
}

#[test]
fn public_operations_say_so_and_the_server_is_named() {
    let doc = printed_document();
    assert_eq!(doc["servers"][0]["url"], "/");
    for (method, path, op) in operations(&doc) {
        let secured = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
        if !secured {
            assert_eq!(op["security"], serde_json::json!([]), "{method} {path}");
        }
    }
}

async fn bearer_security_is_declared_exactly_on_protected_routes(b: Backend) {
    let app = spawn_app(b).await;
    let doc = document(&app).await;
    for (method, path, op) in operations(&doc) {
        let protected =
            path.starts_with("/api/") || path == "/auth/logout" || path == "/oauth/introspect";
        let declared = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
        assert_eq!(protected, declared, "{method} {path}");
        if protected {
            assert!(
                op["responses"].get("401").is_some(),
                "{method} {path} lacks 401"
            );
        }
    }
}
