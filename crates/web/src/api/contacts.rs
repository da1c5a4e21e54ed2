//! Directory search, contact requests, contacts, blocks. Every change is also told to the
//! signaling hub, which pushes it to both users' open tabs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use proto::rest::{ContactList, ContactRequest, ContactRequestResult, UserInfo};
use proto::ws::ContactEvent;
use proto::ApiError;
use serde::Deserialize;

use super::session::user_info;
use crate::error::HttpError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authed};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Start of a username or of a word in a display name (the first 64 characters count;
    /// empty finds nobody).
    pub q: String,
}

/// Tells the hub how two users now stand, with the event each side should see.
async fn notify(state: &AppState, a: i64, b: i64, for_a: Option<ContactEvent>, for_b: Option<ContactEvent>) {
    let (contacts, blocked) = match state.blocking(move |s| Ok(s.relation_between(a, b)?)).await {
        Ok(r) => r,
        Err(_) => return,
    };
    state
        .hub
        .input(hub::Input::RelationChanged { a, b, contacts, blocked, event_for_a: for_a, event_for_b: for_b })
        .await;
}

/// Search the organisation's directory for people to add.
#[utoipa::path(get, path = "/api/v1/directory", tag = "contacts", params(SearchQuery),
    responses((status = 200, body = Vec<UserInfo>), (status = 403, description = "directory search disabled", body = ApiError),
        (status = 429, description = "rate_limited: this session or address spent its budget", body = ApiError)))]
pub async fn search(
    State(state): State<AppState>,
    a: Authed,
    _budget: crate::budget::Budget,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<Vec<UserInfo>>, HttpError> {
    if !state.config.directory_search {
        return Err(HttpError::forbidden("directory search is disabled on this server"));
    }
    let query: String = q.q.trim().chars().take(64).collect();
    if query.is_empty() {
        return Ok(Json(Vec::new()));
    }
    let me = a.user.id;
    let users = state.blocking(move |s| Ok(s.search_users(&query, me, 20)?)).await?;
    Ok(Json(users.iter().map(user_info).collect()))
}

/// The caller's contacts, pending requests and blocked users.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", responses((status = 200, body = ContactList)))]
pub async fn list(State(state): State<AppState>, a: Authed) -> Result<Json<ContactList>, HttpError> {
    let me = a.user.id;
    let l = state.blocking(move |s| Ok(s.contact_list(me)?)).await?;
    let map = |v: Vec<store::User>| v.iter().map(user_info).collect();
    Ok(Json(ContactList {
        contacts: map(l.contacts),
        incoming: map(l.incoming),
        outgoing: map(l.outgoing),
        blocked: map(l.blocked),
    }))
}

/// Ask someone to become a contact (accepts at once if they had asked you).
#[utoipa::path(post, path = "/api/v1/contacts/requests", tag = "contacts", request_body = ContactRequest,
    responses((status = 200, body = ContactRequestResult), (status = 404, body = ApiError),
        (status = 403, description = "not_allowed (blocked)", body = ApiError), (status = 429, description = "rate_limited: this session or address spent its budget", body = ApiError)))]
pub async fn request(
    State(state): State<AppState>,
    a: Authed,
    _budget: crate::budget::Budget,
    ApiJson(req): ApiJson<ContactRequest>,
) -> Result<Json<ContactRequestResult>, HttpError> {
    let (me, other) = (a.user.id, req.user_id);
    let now = crate::unix_now();
    let outcome = state
        .blocking(move |s| match s.request_contact(me, other, now) {
            Err(store::StoreError::NotFound) => Err(HttpError::not_found("user")),
            r => Ok(r?),
        })
        .await?;
    let state_name = match outcome {
        store::RequestOutcome::Requested => {
            notify(&state, me, other, None, Some(ContactEvent::RequestReceived)).await;
            "requested"
        }
        store::RequestOutcome::Accepted => {
            notify(&state, me, other, Some(ContactEvent::RequestAccepted), Some(ContactEvent::RequestAccepted)).await;
            "accepted"
        }
        store::RequestOutcome::AlreadyContacts => "already_contacts",
    };
    Ok(Json(ContactRequestResult { state: state_name.into() }))
}

async fn answer(state: AppState, me: i64, from: i64, accept: bool) -> Result<StatusCode, HttpError> {
    let now = crate::unix_now();
    state
        .blocking(move |s| match s.answer_request(me, from, accept, now) {
            Err(store::StoreError::NotFound) => Err(HttpError::not_found("contact request")),
            r => Ok(r?),
        })
        .await?;
    let event = if accept { ContactEvent::RequestAccepted } else { ContactEvent::RequestDeclined };
    notify(&state, me, from, accept.then_some(event), Some(event)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Accept a request someone sent you.
#[utoipa::path(post, path = "/api/v1/contacts/requests/{user_id}/accept", tag = "contacts",
    params(("user_id" = i64, Path, description = "who sent the request")),
    responses((status = 204), (status = 404, body = ApiError)))]
pub async fn accept(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(from): ApiPath<i64>,
) -> Result<StatusCode, HttpError> {
    answer(state, a.user.id, from, true).await
}

/// Decline a request someone sent you.
#[utoipa::path(post, path = "/api/v1/contacts/requests/{user_id}/decline", tag = "contacts",
    params(("user_id" = i64, Path, description = "who sent the request")),
    responses((status = 204), (status = 404, body = ApiError)))]
pub async fn decline(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(from): ApiPath<i64>,
) -> Result<StatusCode, HttpError> {
    answer(state, a.user.id, from, false).await
}

/// Withdraw a request you sent.
#[utoipa::path(delete, path = "/api/v1/contacts/requests/{user_id}", tag = "contacts",
    params(("user_id" = i64, Path, description = "to whom the request went")),
    responses((status = 204), (status = 404, body = ApiError)))]
pub async fn cancel(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(to): ApiPath<i64>,
) -> Result<StatusCode, HttpError> {
    let me = a.user.id;
    if !state.blocking(move |s| Ok(s.cancel_request(me, to)?)).await? {
        return Err(HttpError::not_found("contact request"));
    }
    notify(&state, me, to, None, Some(ContactEvent::Removed)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a contact (for both sides).
#[utoipa::path(delete, path = "/api/v1/contacts/{user_id}", tag = "contacts",
    params(("user_id" = i64, Path, description = "the contact")), responses((status = 204), (status = 404, body = ApiError)))]
pub async fn remove(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(other): ApiPath<i64>,
) -> Result<StatusCode, HttpError> {
    let me = a.user.id;
    if !state.blocking(move |s| Ok(s.remove_contact(me, other)?)).await? {
        return Err(HttpError::not_found("contact"));
    }
    notify(&state, me, other, Some(ContactEvent::Removed), Some(ContactEvent::Removed)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Block a user: no presence, calls or messages between you; contact and requests removed.
#[utoipa::path(put, path = "/api/v1/blocks/{user_id}", tag = "contacts",
    params(("user_id" = i64, Path, description = "the user to block")), responses((status = 204), (status = 404, body = ApiError)))]
pub async fn block(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(other): ApiPath<i64>,
) -> Result<StatusCode, HttpError> {
    let me = a.user.id;
    let now = crate::unix_now();
    state
        .blocking(move |s| match s.block(me, other, now) {
            Err(store::StoreError::NotFound) => Err(HttpError::not_found("user")),
            r => Ok(r?),
        })
        .await?;
    // The blocked user learns only that the contact is gone, not that they were blocked.
    notify(&state, me, other, Some(ContactEvent::Removed), Some(ContactEvent::Removed)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a block you set.
#[utoipa::path(delete, path = "/api/v1/blocks/{user_id}", tag = "contacts",
    params(("user_id" = i64, Path, description = "the blocked user")), responses((status = 204), (status = 404, body = ApiError)))]
pub async fn unblock(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(other): ApiPath<i64>,
) -> Result<StatusCode, HttpError> {
    let me = a.user.id;
    if !state.blocking(move |s| Ok(s.unblock(me, other)?)).await? {
        return Err(HttpError::not_found("block"));
    }
    notify(&state, me, other, Some(ContactEvent::Removed), None).await;
    Ok(StatusCode::NO_CONTENT)
}
