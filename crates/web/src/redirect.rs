//! The optional plain-HTTP listener: it serves nothing but a redirect to HTTPS, and the
//! answers to ACME HTTP-01 challenges while one is under way.

use axum::extract::Path;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::tls::CertResolver;

pub fn router(public_url: String, challenges: Option<CertResolver>) -> Router {
    let mut r = Router::new();
    if let Some(c) = challenges {
        r = r.route(
            "/.well-known/acme-challenge/{token}",
            axum::routing::get(move |Path(token): Path<String>| {
                let answer = c.http_challenge(&token);
                async move {
                    match answer {
                        Some(key_auth) => (StatusCode::OK, key_auth).into_response(),
                        None => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            }),
        );
    }
    r.fallback(move |uri: Uri| {
        let target = format!("{}{}", public_url, uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
        async move { redirect(&target) }
    })
}

fn redirect(target: &str) -> Response {
    (StatusCode::PERMANENT_REDIRECT, [(axum::http::header::LOCATION, target.to_owned())]).into_response()
}
