//! Routes of `/api/v1`.

pub mod admin;
pub mod attachments;
pub mod calls;
pub mod contacts;
pub mod conversations;
pub mod health;
pub mod meetings;
pub mod register;
pub mod session;

use axum::routing::{delete, get, patch, post, put};
use axum::Router;
use proto::ErrorCode;

use crate::error::HttpError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/session", post(session::login).get(session::current).delete(session::logout))
        .route("/sessions", get(session::list))
        .route("/sessions/{id}", delete(session::revoke))
        .route("/me/password", post(session::change_password))
        .route("/invites/check", post(register::check))
        .route("/register", post(register::register))
        .route("/admin/users", get(admin::list_users).post(admin::create_user))
        .route("/admin/users/{id}", patch(admin::update_user).delete(admin::delete_user))
        .route("/admin/invites", get(admin::list_invites).post(admin::create_invite))
        .route("/ws", get(crate::signaling::upgrade))
        .route("/directory", get(contacts::search))
        .route("/contacts", get(contacts::list))
        .route("/contacts/requests", post(contacts::request))
        .route("/contacts/requests/{user_id}", delete(contacts::cancel))
        .route("/contacts/requests/{user_id}/accept", post(contacts::accept))
        .route("/contacts/requests/{user_id}/decline", post(contacts::decline))
        .route("/contacts/{user_id}", delete(contacts::remove))
        .route("/blocks/{user_id}", put(contacts::block).delete(contacts::unblock))
        .route("/conversations", get(conversations::list).post(conversations::create))
        .route("/conversations/{id}", get(conversations::get).patch(conversations::rename))
        .route("/conversations/{id}/members", post(conversations::add_member))
        .route("/conversations/{id}/members/{user_id}", delete(conversations::remove_member))
        .route("/conversations/{id}/messages", get(conversations::messages).post(conversations::post))
        // The body is a file of up to the attachment limit, streamed to disk, not the JSON limit.
        .route(
            "/conversations/{id}/attachments",
            post(attachments::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/attachments/limits", get(attachments::limits))
        .route("/attachments/{id}", get(attachments::download))
        .route("/meetings", get(meetings::list).post(meetings::create))
        .route("/meetings/{id}", get(meetings::get).patch(meetings::update))
        .route("/meetings/{id}/end", post(meetings::end))
        .route("/meetings/{id}/accept", post(meetings::accept))
        .route("/meetings/{id}/decline", post(meetings::decline))
        .route("/meetings/{id}/leave", post(meetings::leave))
        .route("/meetings/{id}/guests/{user_id}/admit", post(meetings::admit))
        .route("/meetings/{id}/guests/{user_id}/reject", post(meetings::reject))
        .route("/meetings/{id}/guests/{user_id}", delete(meetings::remove_guest))
        .route("/meet/join", post(meetings::join))
        .route("/meet/code", post(meetings::meet_by_code))
        .route("/calls", get(calls::history))
        .route("/calls/missed/seen", post(calls::missed_seen))
        .route("/ice-servers", get(calls::ice_servers))
        .route("/openapi.json", get(crate::openapi::serve))
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
}

async fn no_route() -> HttpError {
    HttpError::new(axum::http::StatusCode::NOT_FOUND, ErrorCode::NoRoute, "no such API endpoint")
}

async fn no_method() -> HttpError {
    HttpError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::NoRoute,
        "method not allowed on this endpoint",
    )
}

/// The `limit` of a page of history: 50 if absent; outside 1–200 it is refused (as the API
/// document declares) rather than quietly changed.
pub(crate) fn page_limit(limit: Option<u32>) -> Result<u32, HttpError> {
    let limit = limit.unwrap_or(50);
    if (1..=proto::chat::MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(HttpError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidField,
            "limit must be between 1 and 200",
        )
        .field("limit"))
    }
}
