//! What a guest's session may reach over HTTP: their own session, the signaling socket,
//! their meeting and its chat (once admitted), ICE servers (once admitted). Every other
//! endpoint answers 403 `guest_forbidden`, whatever it is and whatever it addresses; the
//! handlers then check membership as they do for members.

use axum::extract::MatchedPath;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use proto::ErrorCode;

use crate::error::HttpError;

pub fn forbidden() -> HttpError {
    HttpError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::GuestForbidden,
        "guests can only reach their own meeting, its chat and its call",
    )
}

/// `Ok` when this guest may call this route; `id` is the route's `{id}` segment.
pub fn check(parts: &Parts, id: Option<i64>, guest: &store::Guest, meeting: &store::Meeting) -> Result<(), HttpError> {
    let route = parts.extensions.get::<MatchedPath>().map(|p| p.as_str()).unwrap_or("");
    let route = route.strip_prefix("/api/v1").unwrap_or(route);
    let m = &parts.method;
    let admitted = guest.state == store::GuestState::Admitted;
    let own_meeting = || id == Some(meeting.id);
    let own_conv = || admitted && id == Some(meeting.conv);
    if !guest.state.active() {
        // Out (rejected, removed, meeting over): the session can only learn that, on the
        // socket (closed at once with the reason) or from its meeting.
        let ok = matches!(
            (route, m),
            ("/session", &Method::GET | &Method::DELETE) | ("/ws", &Method::GET) | ("/meetings", &Method::GET)
        ) || (route == "/meetings/{id}" && m == Method::GET && own_meeting());
        return if ok { Ok(()) } else { Err(forbidden()) };
    }
    let ok = match (route, m) {
        ("/session", &Method::GET | &Method::DELETE) | ("/ws", &Method::GET) => true,
        // A guest's list is their own meeting (a page that reloads finds it again).
        ("/meetings", &Method::GET) => true,
        ("/meetings/{id}", &Method::GET) => own_meeting(),
        ("/meetings/{id}/accept" | "/meetings/{id}/decline" | "/meetings/{id}/leave", &Method::POST) => own_meeting(),
        ("/ice-servers" | "/attachments/limits", &Method::GET) => admitted,
        // Downloads check in the store that the file is in a conversation the caller is in.
        ("/attachments/{id}", &Method::GET) => admitted,
        // The list holds only conversations the caller is a member of: the meeting's, once in.
        ("/conversations", &Method::GET) => admitted,
        ("/conversations/{id}", &Method::GET) => own_conv(),
        ("/conversations/{id}/messages", &Method::GET | &Method::POST) => own_conv(),
        ("/conversations/{id}/attachments", &Method::POST) => own_conv(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(forbidden())
    }
}
