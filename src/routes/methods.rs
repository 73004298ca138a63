//! What answers a request no route took: 405 `method_not_allowed` with an `Allow`
//! header for a known path requested with another method (RFC 9110 §15.5.6), 404 for
//! an unknown path. The known paths and their methods come from the OpenAPI document,
//! which every route is registered through. A GET route serves HEAD too (the
//! request-context middleware routes HEAD as GET), so its `Allow` lists both. And
//! `/docs/` is a permanent redirect to `/docs`.

use actix_web::dev::ResourceDef;
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::openapi::OpenApi;

use crate::error::AppError;

/// Every documented path pattern and the methods it serves.
pub struct RouteTable {
    routes: Vec<(ResourceDef, String)>,
}

impl RouteTable {
    pub fn from_openapi(doc: &OpenApi) -> RouteTable {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let ops = [
                    ("GET", item.get.is_some()),
                    ("HEAD", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ];
                let allow: Vec<&str> = ops.iter().filter(|(_, on)| *on).map(|(m, _)| *m).collect();
                (ResourceDef::new(path.as_str()), allow.join(", "))
            })
            .collect();
        RouteTable { routes }
    }

    /// The `Allow` value for `path`, when it is a known path.
    pub fn allowed(&self, path: &str) -> Option<&str> {
        self.routes
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, allow)| allow.as_str())
    }
}

/// The path people type for the API reference page, and where it is.
const DOCS_SLASH: &str = "/docs/";
const DOCS: &str = "/docs";

/// The default service.
pub async fn no_route(
    req: HttpRequest,
    table: Option<web::Data<RouteTable>>,
) -> Result<HttpResponse, AppError> {
    if req.path() == DOCS_SLASH && req.method() == Method::GET {
        return Ok(docs_redirect(req.query_string()));
    }
    Err(match table.as_deref().and_then(|t| t.allowed(req.path())) {
        Some(allow) => AppError::MethodNotAllowed {
            allow: allow.to_string(),
        },
        None => AppError::NotFound("route"),
    })
}

/// 308: a permanent redirect that keeps the method (HEAD is routed as GET).
fn docs_redirect(query: &str) -> HttpResponse {
    let location = match query {
        "" => DOCS.to_string(),
        q => format!("{DOCS}?{q}"),
    };
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, location))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::OpenApiBuilder;

    fn table() -> RouteTable {
        let op = || OperationBuilder::new().build();
        let mut users = PathItem::new(HttpMethod::Get, op());
        users.post = Some(op());
        let doc = OpenApiBuilder::new()
            .paths(PathsBuilder::new().path("/api/admin/users", users).path(
                "/api/admin/users/{id}",
                PathItem::new(HttpMethod::Delete, op()),
            ))
            .build();
        RouteTable::from_openapi(&doc)
    }

    #[test]
    fn known_paths_list_their_methods_and_unknown_ones_are_unknown() {
        let t = table();
        assert_eq!(t.allowed("/api/admin/users"), Some("GET, HEAD, POST"));
        assert_eq!(t.allowed("/api/admin/users/42"), Some("DELETE"));
        assert_eq!(t.allowed("/api/admin/users/42/extra"), None);
        assert_eq!(t.allowed("/nowhere"), None);
    }
}
