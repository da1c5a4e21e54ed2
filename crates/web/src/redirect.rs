//! The optional plain-HTTP listener: it serves nothing but a redirect to HTTPS.

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

pub fn router(public_url: String) -> Router {
    Router::new().fallback(move |uri: Uri| {
        let target = format!("{}{}", public_url, uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
        async move { redirect(&target) }
    })
}

fn redirect(target: &str) -> Response {
    (StatusCode::PERMANENT_REDIRECT, [(axum::http::header::LOCATION, target.to_owned())]).into_response()
}
