//! Login, logout, the caller's devices, password change.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use proto::rest::{ChangePasswordRequest, DeviceSession, LoginRequest, SessionInfo, UserInfo};
use proto::{ApiError, ErrorCode};

use crate::cookie;
use crate::error::HttpError;
use crate::extract::{ApiJson, ApiPath, Authed};
use crate::state::AppState;
use crate::util::sanitize_label;

pub fn user_info(u: &store::User) -> UserInfo {
    UserInfo { id: u.id, username: u.username.clone(), display_name: u.display_name.clone(), is_admin: u.is_admin }
}

/// Creates a device session for `user` and answers with it and its cookie.
pub async fn start_session(
    state: &AppState,
    user: store::User,
    headers: &HeaderMap,
    status: StatusCode,
) -> Result<Response, HttpError> {
    let (info, cookie) = new_session(state, user, headers, None).await?;
    let mut resp = (status, Json(info)).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// Creates a device session for `user` (ending at `until` at the latest, if given: a guest's
/// ends with their meeting) and returns it with its `Set-Cookie` value.
pub async fn new_session(
    state: &AppState,
    user: store::User,
    headers: &HeaderMap,
    until: Option<i64>,
) -> Result<(SessionInfo, header::HeaderValue), HttpError> {
    let token = auth::token::new_token();
    let csrf_token = auth::token::new_token();
    let now = crate::unix_now();
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("unknown");
    let cap = |t: i64| until.map_or(t, |u| t.min(u));
    let new = store::NewSession {
        token_hash: auth::token::hash_token(&token),
        user_id: user.id,
        csrf_token: csrf_token.clone(),
        user_agent: sanitize_label(user_agent, 200),
        now,
        expires_at: cap(now + state.config.session_idle.as_secs() as i64),
        absolute_expires_at: cap(now + state.config.session_max.as_secs() as i64),
    };
    let session_id = state.blocking(move |s| Ok(s.create_session(&new)?)).await?;
    let info =
        SessionInfo { user: user_info(&user), csrf_token, session_id, account_source: user.source.as_str().to_owned() };
    let max_age = (new_expiry(until, now)).unwrap_or(state.config.session_max.as_secs());
    let cookie =
        cookie::set_session(&token, max_age).ok_or_else(|| HttpError::internal("cookie", "unencodable token"))?;
    Ok((info, cookie))
}

/// The cookie's lifetime for a session that ends at `until`.
fn new_expiry(until: Option<i64>, now: i64) -> Option<u64> {
    until.map(|u| u.saturating_sub(now).max(1) as u64)
}

/// Log in with username and password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = LoginRequest,
    responses(
        (status = 200, description = "logged in; `__Host-mwsession` cookie set", body = SessionInfo),
        (status = 401, description = "invalid_credentials", body = ApiError),
        (status = 403, description = "account_disabled (also: disabled in the directory), forbidden (not in the directory's access group)", body = ApiError),
        (status = 429, description = "rate_limited", body = ApiError),
        (status = 503, description = "directory_unavailable: the LDAP directory cannot be reached", body = ApiError)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, HttpError> {
    // Rate-limit on what was typed (bounded), so invalid names are throttled too.
    let account: String = req.username.trim().to_lowercase().chars().take(64).collect();
    let ip = peer.ip();
    state.limiter().check(&account, ip, Instant::now()).map_err(HttpError::rate_limited)?;

    let name = auth::normalize_username(&req.username).ok();
    let user = match name.clone() {
        Some(name) => state.blocking(move |s| Ok(s.user_by_username(&name)?)).await?,
        None => None,
    };
    // Local accounts always sign in here (the break-glass admin keeps working whatever the
    // directory does); a directory never takes over a local account's name.
    let directory = match (&state.config.directory, &name, &user) {
        (Some(dir), Some(name), None) => Some((dir.clone(), name.clone())),
        (Some(dir), Some(name), Some(u)) if u.source == store::AccountSource::Directory => {
            Some((dir.clone(), name.clone()))
        }
        _ => None,
    };
    let verified = match directory {
        Some((dir, name)) => directory_sign_in(&state, &dir, &name, &req.password).await?,
        None => {
            let phc = user.as_ref().map(|u| u.password_hash.clone());
            let password = req.password;
            // Always run argon2, even for unknown users, so timing does not reveal which names exist.
            let ok = state
                .hashing(move || match phc {
                    Some(h) => auth::password::verify(&password, &h),
                    None => {
                        auth::password::verify(&password, auth::password::dummy_hash());
                        false
                    }
                })
                .await?;
            user.filter(|_| ok)
        }
    };
    let Some(user) = verified else {
        state.login_outcome(&account, ip, false);
        tracing::info!("login failed");
        return Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidCredentials,
            "wrong username or password",
        ));
    };
    state.login_outcome(&account, ip, true);
    if user.disabled {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::AccountDisabled,
            "this account has been disabled",
        ));
    }
    tracing::info!(user_id = user.id, "login");
    start_session(&state, user, &headers, StatusCode::OK).await
}

/// Checks a directory user's password by binding as them, then creates or updates their
/// account from what the directory says. `None`: wrong username or password.
async fn directory_sign_in(
    state: &AppState,
    dir: &directory::Directory,
    name: &str,
    password: &str,
) -> Result<Option<store::User>, HttpError> {
    let person = match dir.authenticate(name, password).await {
        Ok(p) => p,
        Err(directory::DirectoryError::InvalidCredentials) => return Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "directory sign-in failed");
            let msg = if e.is_unavailable() {
                "the organisation's directory cannot be reached, so directory accounts cannot sign in \
                 right now; try again in a few minutes"
            } else {
                "sign-in through the organisation's directory failed; the administrator finds the reason \
                 in the server log"
            };
            return Err(HttpError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::DirectoryUnavailable, msg));
        }
    };
    let account = directory::sync::account_of(&person);
    let now = crate::unix_now();
    let applied = state.blocking(move |s| Ok(s.apply_directory_account(&account, true, now)?)).await?;
    let user = match applied {
        store::DirectoryApplied::Created(u) => {
            tracing::info!(user_id = u.id, "directory account created at first sign-in");
            u
        }
        store::DirectoryApplied::Updated { user, sessions_ended } => {
            if sessions_ended {
                state.hub.input(hub::Input::SessionsEnded { user: user.id, only: None, keep: None }).await;
            }
            user
        }
        // The name is a local account's, or the directory refuses them and no account exists.
        store::DirectoryApplied::LocalAccount => return Ok(None),
        store::DirectoryApplied::Absent => return Err(refusal(person.standing)),
    };
    if person.standing.is_active() {
        Ok(Some(user))
    } else {
        Err(refusal(person.standing))
    }
}

/// The answer to a right password whose owner the directory does not let in.
fn refusal(standing: directory::Standing) -> HttpError {
    match standing {
        directory::Standing::NotInAccessGroup => HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "your directory account is not permitted to use this service; ask your administrator",
        ),
        _ => HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::AccountDisabled,
            "this account is disabled in the organisation's directory",
        ),
    }
}

/// The caller's session and CSRF token.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, body = SessionInfo), (status = 401, body = ApiError)))]
pub async fn current(a: Authed) -> Json<SessionInfo> {
    Json(SessionInfo {
        user: user_info(&a.user),
        csrf_token: a.session.csrf_token.clone(),
        session_id: a.session.id,
        account_source: a.user.source.as_str().to_owned(),
    })
}

/// Log out: ends this device's session and clears the cookie.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204), (status = 401, body = ApiError), (status = 403, description = "csrf_failed", body = ApiError)))]
pub async fn logout(State(state): State<AppState>, a: Authed) -> Result<Response, HttpError> {
    let (uid, sid) = (a.user.id, a.session.id);
    state.blocking(move |s| Ok(s.delete_session(uid, sid)?)).await?;
    state.hub.input(hub::Input::SessionsEnded { user: uid, only: Some(sid), keep: None }).await;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie::clear_session());
    Ok(resp)
}

/// The caller's logged-in devices.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "session",
    responses((status = 200, body = Vec<DeviceSession>), (status = 401, body = ApiError)))]
pub async fn list(State(state): State<AppState>, a: Authed) -> Result<Json<Vec<DeviceSession>>, HttpError> {
    let (uid, current) = (a.user.id, a.session.id);
    let now = crate::unix_now();
    let sessions = state.blocking(move |s| Ok(s.list_sessions(uid, now)?)).await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| DeviceSession {
                id: s.id,
                user_agent: s.user_agent,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                current: s.id == current,
            })
            .collect(),
    ))
}

/// Sign out one of the caller's devices.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "session",
    params(("id" = i64, Path, description = "session id")),
    responses((status = 204), (status = 404, body = ApiError)))]
pub async fn revoke(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, HttpError> {
    let uid = a.user.id;
    if state.blocking(move |s| Ok(s.delete_session(uid, id)?)).await? {
        state.hub.input(hub::Input::SessionsEnded { user: uid, only: Some(id), keep: None }).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(HttpError::not_found("session"))
    }
}

/// Refusal of a change the directory owns.
pub fn managed_by_directory(what: &str) -> HttpError {
    HttpError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::ManagedByDirectory,
        format!("{what} is managed by your organisation's directory (LDAP); change it there"),
    )
}

/// Change the caller's password; every other device is signed out.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "session", request_body = ChangePasswordRequest,
    responses((status = 204), (status = 403, description = "wrong_password, or managed_by_directory", body = ApiError),
        (status = 422, description = "invalid_field", body = ApiError)))]
pub async fn change_password(
    State(state): State<AppState>,
    a: Authed,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, HttpError> {
    if a.user.source == store::AccountSource::Directory {
        return Err(managed_by_directory("your password"));
    }
    if let Some(why) = auth::password::policy_violation(&req.new_password) {
        return Err(
            HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField, why).field("new_password")
        );
    }
    let phc = a.user.password_hash.clone();
    let current = req.current_password;
    let new = req.new_password;
    let new_hash = state
        .hashing(move || if auth::password::verify(&current, &phc) { Some(auth::password::hash(&new)) } else { None })
        .await?;
    let new_hash = match new_hash {
        None => {
            return Err(HttpError::new(StatusCode::FORBIDDEN, ErrorCode::WrongPassword, "current password is wrong")
                .field("current_password"))
        }
        Some(h) => h.map_err(|e| HttpError::internal("password hash", e))?,
    };
    let (uid, sid) = (a.user.id, a.session.id);
    state
        .blocking(move |s| {
            s.set_password_hash(uid, &new_hash)?;
            s.delete_sessions_of_user(uid, Some(sid))?;
            Ok(())
        })
        .await?;
    state.hub.input(hub::Input::SessionsEnded { user: uid, only: None, keep: Some(sid) }).await;
    tracing::info!(user_id = uid, "password changed");
    Ok(StatusCode::NO_CONTENT)
}
