//! `/openapi.json`: complete, and generated from the routes actually served.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, status_and_json, Backend};
use crate::on_both_backends;

on_both_backends!(
    the_document_is_openapi_3_1_and_lists_every_contract_route,
    every_documented_operation_is_served,
    bearer_security_is_declared_exactly_on_protected_routes,
);

/// The routes of `shared/API.md` (plus the document itself).
const CONTRACT: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/openapi.json"),
    ("post", "/auth/register"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/logout"),
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
];

async fn document(app: &crate::helpers::TestApp) -> Value {
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

async fn bearer_security_is_declared_exactly_on_protected_routes(b: Backend) {
    let app = spawn_app(b).await;
    let doc = document(&app).await;
    for (method, path, op) in operations(&doc) {
        let protected = path.starts_with("/api/") || path == "/auth/logout";
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
