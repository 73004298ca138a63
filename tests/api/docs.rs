//! `GET /docs`: the API reference page works with no network beyond the server.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{spawn_app, Backend};

on_both_backends!(the_docs_page_and_every_asset_it_loads_come_from_the_server_itself);

/// The `href`/`src` values of an HTML page.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for part in html.split(attr).skip(1) {
            if let Some(end) = part.find('"') {
                out.push(part[..end].to_string());
            }
        }
    }
    out
}

async fn the_docs_page_and_every_asset_it_loads_come_from_the_server_itself(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.get("/docs", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(
        !csp.contains("http"),
        "the page may load from other hosts: {csp}"
    );
    let html = res.text().await.unwrap();
    let assets = references(&html);
    assert!(assets.len() >= 4, "{assets:?}");
    for asset in &assets {
        assert!(
            asset.starts_with("/docs/"),
            "{asset} is not served by turnstile"
        );
        let res = app.get(asset, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{asset}");
        let kind = res.headers()["content-type"].to_str().unwrap().to_string();
        let want = match asset.rsplit('.').next() {
            Some("css") => "text/css",
            Some("js") => "text/javascript",
            _ => "image/png",
        };
        assert!(kind.starts_with(want), "{asset}: {kind}");
        assert!(!res.bytes().await.unwrap().is_empty(), "{asset} is empty");
    }
    // The initializer points Swagger UI at this server's own document.
    let init = app
        .get("/docs/swagger-initializer.js", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("\"/openapi.json\""), "{init}");
    // Other files of the distribution are not served, and other answers keep the
    // strict policy.
    assert_eq!(
        app.get("/docs/index.html", None).await.status(),
        StatusCode::NOT_FOUND
    );
    let health = app.get("/health", None).await;
    assert_eq!(
        health.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
}
