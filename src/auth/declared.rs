//! The permission each guarded route declares, once: the `x-permission` of its OpenAPI
//! operation (`#[utoipa::path(extensions(("x-permission" = json!([...]))))]`). The
//! same declaration is what the document shows clients and what the guard of the
//! admin scope enforces (`auth::middleware::declared_permission`), so the two cannot
//! drift. Several names mean any of them lets the request through the gate; the use
//! case checks the rest.

use actix_web::dev::ResourceDef;
use actix_web::http::Method;
use utoipa::openapi::OpenApi;

/// The OpenAPI extension that names an operation's permissions.
pub const EXTENSION: &str = "x-permission";

struct Declared {
    method: Method,
    path: ResourceDef,
    any_of: Vec<String>,
}

/// Every operation's declared permissions, read from the document at start.
#[derive(Default)]
pub struct PermissionTable {
    routes: Vec<Declared>,
}

impl PermissionTable {
    /// Reads every operation's `x-permission`. Each operation whose path starts with
    /// one of `guarded` must declare one: a route there without it refuses to start,
    /// rather than serve unguarded.
    pub fn from_openapi(doc: &OpenApi, guarded: &[&str]) -> Result<PermissionTable, String> {
        let mut routes = Vec::new();
        for (path, item) in &doc.paths.paths {
            let ops = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                let declared = op
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get(EXTENSION))
                    .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
                    .filter(|names| !names.is_empty());
                match declared {
                    Some(any_of) => routes.push(Declared {
                        method,
                        path: ResourceDef::new(path.as_str()),
                        any_of,
                    }),
                    None if guarded.iter().any(|g| path.starts_with(g)) => {
                        return Err(format!("{method} {path} declares no {EXTENSION}"));
                    }
                    None => {}
                }
            }
        }
        Ok(PermissionTable { routes })
    }

    /// The permissions the operation at `method` and `path` declares (any of them
    /// passes the gate), or `None` for an operation that declares none.
    pub fn needed(&self, method: &Method, path: &str) -> Option<&[String]> {
        self.routes
            .iter()
            .find(|d| d.method == method && d.path.is_match(path))
            .map(|d| d.any_of.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::extensions::ExtensionsBuilder;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::OpenApiBuilder;

    fn op(permissions: Option<&[&str]>) -> utoipa::openapi::path::Operation {
        let mut b = OperationBuilder::new();
        if let Some(p) = permissions {
            b = b.extensions(Some(
                ExtensionsBuilder::new()
                    .add(EXTENSION, serde_json::json!(p))
                    .build(),
            ));
        }
        b.build()
    }

    fn doc(admin_op: utoipa::openapi::path::Operation) -> OpenApi {
        OpenApiBuilder::new()
            .paths(
                PathsBuilder::new()
                    .path(
                        "/api/admin/users/{id}",
                        PathItem::new(HttpMethod::Delete, admin_op),
                    )
                    .path("/api/profile", PathItem::new(HttpMethod::Get, op(None))),
            )
            .build()
    }

    #[test]
    fn each_operation_needs_what_it_declares_and_undeclared_ones_nothing() {
        let t = PermissionTable::from_openapi(&doc(op(Some(&["users:delete"]))), &["/api/admin"])
            .unwrap();
        let needed = t.needed(&Method::DELETE, "/api/admin/users/7").unwrap();
        assert_eq!(needed, ["users:delete".to_string()]);
        assert!(t.needed(&Method::GET, "/api/admin/users/7").is_none());
        assert!(t.needed(&Method::GET, "/api/profile").is_none());
    }

    #[test]
    fn a_guarded_operation_without_a_declaration_refuses_to_start() {
        let err = PermissionTable::from_openapi(&doc(op(None)), &["/api/admin"])
            .err()
            .unwrap();
        assert!(err.contains("DELETE /api/admin/users/{id}"), "{err}");
        let empty = PermissionTable::from_openapi(&doc(op(Some(&[]))), &["/api/admin"]);
        assert!(empty.is_err(), "an empty list declares nothing");
    }
}
