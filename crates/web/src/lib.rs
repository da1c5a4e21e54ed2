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
mod room_placement;
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

    /// Lines of arbitrary bytes as a node of a cluster meets them: each line that decodes as a
    /// message of the bus is fed to a hub as the input it becomes, every other line is a frame
    /// from a local user's socket (so calls between local and remote devices are driven too);
    /// the hub's invariants must hold after every line.
    pub fn cluster_bus(data: &[u8]) {
        use hub::{Hub, HubConfig, Input, Relations};
        let mut n = 0u64;
        let mut hub = Hub::new(
            HubConfig::default(),
            Box::new(move || {
                n += 1;
                format!("t{n}")
            }),
        );
        let now = std::time::Instant::now();
        for (conn, user, other) in [(1u64, 1i64, 2i64), (2, 2, 1)] {
            let relations = Relations { contacts: vec![other, 3], blocked: vec![] };
            hub.handle(Input::Open { conn, user, session: user, relations, guest: None }, now);
            hub.handle(Input::Text { conn, text: r#"{"type":"hello","v":1}"#.into() }, now);
        }
        for (i, line) in data.split(|b| *b == b'\n').take(64).enumerate() {
            let input = match serde_json::from_slice::<crate::cluster::BusMsg>(line) {
                // What the driver does on a node's leaving (or silence).
                Ok(crate::cluster::BusMsg::Leaving { node }) => Input::NodeGone { node },
                Ok(msg) => match msg.into_input() {
                    Some(input) => input,
                    None => continue,
                },
                Err(_) => Input::Text { conn: 1 + (i as u64 % 2), text: String::from_utf8_lossy(line).into_owned() },
            };
            hub.handle(input, now + std::time::Duration::from_secs(i as u64));
            while hub.poll_output().is_some() {}
            if let Err(e) = hub.check_invariants() {
                panic!("hub invariant broken after line {i}: {e}");
            }
        }
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
