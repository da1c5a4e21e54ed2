//! Headers and checks applied to every response and request.

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::HttpError;
use crate::extract::is_safe;

/// No inline script or style anywhere; media and WebSocket only to our own origin.
/// `'wasm-unsafe-eval'` lets the client compile its own WebAssembly (the file transfers'
/// SHA-256, served from 'self' like every script); it allows no JavaScript `eval`.
pub const CSP: &str =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; \
media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

const HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CSP),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("strict-transport-security", "max-age=31536000"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("permissions-policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=()"),
];

pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in HEADERS {
        // A handler's own policy stands (a download's is stricter: a sandbox).
        if *name == "content-security-policy" && h.contains_key(header::CONTENT_SECURITY_POLICY) {
            continue;
        }
        h.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Refuses state-changing requests a browser sent from another origin. Browsers always send
/// `Origin` on such requests; it must name this very host over https. (Requests without
/// `Origin` come from non-browser clients, which cannot be abused for CSRF; authenticated
/// ones still need the session's CSRF token.) We send no CORS headers, so a foreign page
/// cannot even make the JSON requests our API requires.
pub async fn same_origin(req: Request, next: Next) -> Response {
    if !is_safe(req.method()) {
        if let Err(e) = check_origin(&req) {
            return e.into_response();
        }
    }
    next.run(req).await
}

fn check_origin(req: &Request) -> Result<(), HttpError> {
    let headers = req.headers();
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return Err(HttpError::csrf("cross-site request refused"));
    }
    match origin_matches(headers, req.uri().authority().map(|a| a.as_str())) {
        None | Some(true) => Ok(()),
        Some(false) => Err(HttpError::csrf("request from a foreign origin refused")),
    }
}

/// Whether the `Origin` header names this very host (`https://<Host>`); `None` if absent.
/// `authority` stands in for `Host` on HTTP/2, where the host travels in the URI.
pub fn origin_matches(headers: &axum::http::HeaderMap, authority: Option<&str>) -> Option<bool> {
    let origin = headers.get(header::ORIGIN)?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).or(authority);
    Some(match (origin.to_str().ok(), host) {
        (Some(o), Some(h)) => o.eq_ignore_ascii_case(&format!("https://{h}")),
        _ => false,
    })
}
