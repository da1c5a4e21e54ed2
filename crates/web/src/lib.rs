//! The HTTPS face of mywebrtc: REST API under `/api/v1`, device sessions, CSRF and origin
//! checks, security headers, and the embedded browser client.
//!
//! The binary builds a [`WebConfig`] and a [`store::Store`], then calls [`Server::bind`] and
//! [`Server::run`]. Handlers do no blocking work on the async runtime: database calls and
//! password hashing run on the blocking pool (see [`state::AppState::blocking`]).

pub mod acme;
mod api;
mod assets;
mod attachments;
mod budget;
mod chat;
pub mod cluster;
pub mod conference;
mod config;
mod cookie;
mod directory_sync;
mod error;
mod extract;
mod group_ring;
mod guest_gate;
mod meetings;
pub mod metrics;
mod openapi;
mod process_stats;
mod redirect;
mod security;
mod server;
mod signaling;
mod state;
mod tls;
mod util;

pub use attachments::retention_days;
pub use budget::BudgetRates;
pub use config::{AttachmentConfig, MeetingsConfig, TlsSource, TurnRest, WebConfig};
pub use hub::HubConfig;
pub use openapi::openapi_json;
pub use server::{derive_public_url, Server};
pub use tls::write_private as write_private_file;
pub use util::unix_now;

/// Entry points for the fuzz targets in `fuzz/`: the parsers of untrusted request bytes.
pub mod fuzzing {
    /// The session token found in a raw `Cookie` header value, if any.
    pub fn session_token_from_cookie_header(raw: &[u8]) -> Option<String> {
        let mut headers = axum::http::HeaderMap::new();
        let value = axum::http::HeaderValue::from_bytes(raw).ok()?;
        headers.insert(axum::http::header::COOKIE, value);
        crate::cookie::session_token(&headers)
    }

    /// The headers of an upload and a download, from arbitrary bytes: checks what the parsers
    /// promise (a range inside the file, a type that is `type/subtype` and not a form).
    pub fn attachment_headers(range: &[u8], size: u64, content_type: &[u8]) {
        use crate::attachments::range::{answer, RangeAnswer};
        if let RangeAnswer::Part { start, end } = answer(Some(range), size) {
            assert!(start <= end && end < size, "range {start}-{end} outside {size}");
        }
        if let Ok(m) = crate::attachments::upload_mime(Some(content_type)) {
            assert!(m.contains('/') && !m.starts_with("multipart/") && m == m.to_ascii_lowercase());
        }
    }
}
