//! The browser client, embedded in the binary at build time.

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../client"]
struct Client;

/// Serves a client file, or the app shell for client-side routes (`/`, `/setup`, `/invite`...).
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if let Some(file) = Client::get(path) {
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        return ([(header::CONTENT_TYPE, mime.as_ref()), (header::CACHE_CONTROL, "no-cache")], file.data)
            .into_response();
    }
    // Paths with an extension are files: a missing one is a 404, not the app.
    let last = path.rsplit('/').next().unwrap_or("");
    if last.contains('.') {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match Client::get("index.html") {
        Some(index) => {
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], index.data)
                .into_response()
        }
        None => (StatusCode::INTERNAL_SERVER_ERROR, "client missing from build").into_response(),
    }
}
