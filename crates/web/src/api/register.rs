//! Account creation through a one-time link: invite links made by administrators, and the
//! first-admin setup link printed at start-up.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use proto::rest::{InviteCheck, InviteCheckRequest, InviteKind, RegisterRequest, SessionInfo};
use proto::ApiError;

use crate::error::HttpError;
use crate::extract::ApiJson;
use crate::state::AppState;

fn kind(k: store::InviteKind) -> InviteKind {
    match k {
        store::InviteKind::Setup => InviteKind::Setup,
        store::InviteKind::Registration => InviteKind::Registration,
    }
}

/// Whether an invite or setup token can still be used.
#[utoipa::path(post, path = "/api/v1/invites/check", tag = "register", request_body = InviteCheckRequest,
    responses((status = 200, body = InviteCheck), (status = 410, description = "invite_invalid", body = ApiError)))]
pub async fn check(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<InviteCheckRequest>,
) -> Result<Json<InviteCheck>, HttpError> {
    let hash = auth::token::hash_token(&req.token);
    let now = crate::unix_now();
    let invite = state.blocking(move |s| Ok(s.usable_invite(&hash, now)?)).await?;
    let invite = invite.ok_or(store::StoreError::InviteInvalid)?;
    Ok(Json(InviteCheck { kind: kind(invite.kind), is_admin: invite.is_admin, expires_at: invite.expires_at }))
}

/// Create an account with a token; the new user is logged in at once.
#[utoipa::path(post, path = "/api/v1/register", tag = "register", request_body = RegisterRequest,
    responses((status = 201, body = SessionInfo),
        (status = 409, description = "username_taken", body = ApiError),
        (status = 410, description = "invite_invalid", body = ApiError),
        (status = 422, description = "invalid_field", body = ApiError)))]
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Response, HttpError> {
    let hash = auth::token::hash_token(&req.token);
    let now = crate::unix_now();
    // What was typed is checked first (a form's mistakes are told whatever the link), then
    // the link, before an argon2 hash is spent on it.
    auth::check_new_user(&req.username, req.display_name.as_deref(), &req.password)?;
    let h = hash.clone();
    state.blocking(move |s| Ok(s.usable_invite(&h, now)?)).await?.ok_or(store::StoreError::InviteInvalid)?;
    let new_user = state
        .hashing(move || auth::prepare_new_user(&req.username, req.display_name.as_deref(), &req.password, false))
        .await??;
    let user = state.blocking(move |s| Ok(s.redeem_invite(&hash, &new_user, now)?)).await?;
    tracing::info!(user_id = user.id, is_admin = user.is_admin, "account registered with a link");
    super::session::start_session(&state, user, &headers, StatusCode::CREATED).await
}
