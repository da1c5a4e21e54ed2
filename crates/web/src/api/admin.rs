//! Administration: accounts and invite links.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use proto::rest::{
    AdminUserInfo, CreateInviteRequest, CreateUserRequest, CreatedInvite, InviteInfo, UpdateUserRequest,
};
use proto::{ApiError, ErrorCode};

use crate::error::HttpError;
use crate::extract::{Admin, ApiJson, ApiPath};
use crate::state::AppState;

fn admin_user_info(u: &store::User) -> AdminUserInfo {
    AdminUserInfo {
        id: u.id,
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        is_admin: u.is_admin,
        disabled: u.disabled,
        created_at: u.created_at,
        source: u.source.as_str().to_owned(),
    }
}

/// All accounts.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    responses((status = 200, body = Vec<AdminUserInfo>), (status = 403, body = ApiError)))]
pub async fn list_users(State(state): State<AppState>, _a: Admin) -> Result<Json<Vec<AdminUserInfo>>, HttpError> {
    let users = state.blocking(|s| Ok(s.list_users()?)).await?;
    Ok(Json(users.iter().map(admin_user_info).collect()))
}

/// Create an account.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", request_body = CreateUserRequest,
    responses((status = 201, body = AdminUserInfo), (status = 409, description = "username_taken", body = ApiError),
        (status = 422, description = "invalid_field", body = ApiError)))]
pub async fn create_user(
    State(state): State<AppState>,
    Admin(a): Admin,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<AdminUserInfo>), HttpError> {
    let new_user = state
        .hashing(move || {
            auth::prepare_new_user(&req.username, req.display_name.as_deref(), &req.password, req.is_admin)
        })
        .await??;
    let now = crate::unix_now();
    let user = state.blocking(move |s| Ok(s.create_user(&new_user, now)?)).await?;
    tracing::info!(by = a.user.id, user_id = user.id, is_admin = user.is_admin, "account created");
    Ok((StatusCode::CREATED, Json(admin_user_info(&user))))
}

/// Disable/enable an account or change its admin flag. Disabling signs it out everywhere.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", request_body = UpdateUserRequest,
    params(("id" = i64, Path, description = "user id")),
    responses((status = 200, body = AdminUserInfo), (status = 404, body = ApiError),
        (status = 403, description = "managed_by_directory: a directory account's role follows its groups", body = ApiError),
        (status = 409, description = "last_admin", body = ApiError)))]
pub async fn update_user(
    State(state): State<AppState>,
    Admin(a): Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> Result<Json<AdminUserInfo>, HttpError> {
    if req.is_admin.is_some() {
        let target = state.blocking(move |s| Ok(s.user_by_id(id)?)).await?;
        if target.is_some_and(|u| u.source == store::AccountSource::Directory) {
            return Err(crate::api::session::managed_by_directory("the role of a directory account"));
        }
    }
    let user = state.blocking(move |s| Ok(s.update_user_flags(id, req.disabled, req.is_admin)?)).await?;
    if user.disabled {
        state.hub.input(hub::Input::SessionsEnded { user: id, only: None, keep: None }).await;
    }
    tracing::info!(by = a.user.id, user_id = id, disabled = user.disabled, is_admin = user.is_admin, "account updated");
    Ok(Json(admin_user_info(&user)))
}

/// Delete an account and its sessions.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}", tag = "admin",
    params(("id" = i64, Path, description = "user id")),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, description = "last_admin", body = ApiError)))]
pub async fn delete_user(
    State(state): State<AppState>,
    Admin(a): Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, HttpError> {
    state.blocking(move |s| Ok(s.delete_user(id)?)).await?;
    state.hub.input(hub::Input::SessionsEnded { user: id, only: None, keep: None }).await;
    tracing::info!(by = a.user.id, user_id = id, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}

pub const INVITE_DEFAULT_HOURS: u32 = 72;
pub const INVITE_MAX_HOURS: u32 = 720;

/// Create a one-time registration link. The URL is returned once; only its hash is kept.
#[utoipa::path(post, path = "/api/v1/admin/invites", tag = "admin", request_body = CreateInviteRequest,
    responses((status = 201, body = CreatedInvite), (status = 422, description = "invalid_field", body = ApiError),
        (status = 429, description = "rate_limited: this session or address spent its budget", body = ApiError)))]
pub async fn create_invite(
    State(state): State<AppState>,
    Admin(a): Admin,
    _budget: crate::budget::Budget,
    ApiJson(req): ApiJson<CreateInviteRequest>,
) -> Result<(StatusCode, Json<CreatedInvite>), HttpError> {
    let hours = req.expires_in_hours.unwrap_or(INVITE_DEFAULT_HOURS);
    if !(1..=INVITE_MAX_HOURS).contains(&hours) {
        return Err(HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidField,
            format!("expires_in_hours must be between 1 and {INVITE_MAX_HOURS}"),
        )
        .field("expires_in_hours"));
    }
    let created_by = a.user.id;
    let is_admin = req.is_admin;
    let (id, url, expires_at) = state
        .blocking({
            let base = state.public_url.clone();
            move |s| {
                let link = auth::invites::create_link(
                    s,
                    &base,
                    store::InviteKind::Registration,
                    is_admin,
                    Some(created_by),
                    Duration::from_secs(u64::from(hours) * 3600),
                    crate::unix_now(),
                )?;
                Ok((link.id, link.url, link.expires_at))
            }
        })
        .await?;
    tracing::info!(by = created_by, invite_id = id, "invite created");
    Ok((StatusCode::CREATED, Json(CreatedInvite { id, url, expires_at })))
}

/// Registration links, newest first (without their secrets).
#[utoipa::path(get, path = "/api/v1/admin/invites", tag = "admin", responses((status = 200, body = Vec<InviteInfo>)))]
pub async fn list_invites(State(state): State<AppState>, _a: Admin) -> Result<Json<Vec<InviteInfo>>, HttpError> {
    let invites = state.blocking(|s| Ok(s.list_invites()?)).await?;
    Ok(Json(
        invites
            .into_iter()
            .map(|i| InviteInfo {
                id: i.id,
                is_admin: i.is_admin,
                created_at: i.created_at,
                expires_at: i.expires_at,
                used_at: i.used_at,
            })
            .collect(),
    ))
}
