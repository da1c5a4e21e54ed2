//! Meetings over REST: hosts create, list, lock and end meetings and let guests in; anyone
//! comes in by link or code (`/meet/join`), or meets someone by a shared code (`/meet/code`).
//! Every attempt with a link or code passes the guess limiter and takes the same minimum
//! time, found or not.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use proto::meetings::{CreateMeeting, JoinMeeting, JoinedMeeting, MeetByCode, MeetingInfo, UpdateMeeting};
use proto::{ApiError, ErrorCode};

use crate::error::HttpError;
use crate::extract::{ApiJson, ApiPath, Authed};
use crate::meetings::{access_from_proto, info, Wiring};
use crate::state::AppState;

fn no_meeting() -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, ErrorCode::NoSuchMeeting, "no such meeting, or it is over")
}

fn locked() -> HttpError {
    HttpError::new(StatusCode::FORBIDDEN, ErrorCode::MeetingLocked, "this meeting lets nobody new in")
}

fn invalid(field: &str, msg: impl Into<String>) -> HttpError {
    HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField, msg).field(field)
}

fn wiring(state: &AppState) -> Wiring {
    Wiring { store: state.store.clone(), hub: state.hub.clone(), conference: state.conference.clone() }
}

/// The meeting as the caller sees it, or 404 if they are not in it.
async fn view(state: &AppState, a: &Authed, id: i64) -> Result<MeetingInfo, HttpError> {
    let me = a.user.id;
    let guest_of = a.guest.as_ref().map(|(g, _)| g.meeting);
    let guest_state = a.guest.as_ref().map(|(g, _)| g.state);
    let now = crate::unix_now();
    state
        .blocking(move |s| {
            let m = s.meeting(id)?.ok_or_else(no_meeting)?;
            let role = match (s.meeting_role(id, me)?, guest_state) {
                (Some(r), _) => r,
                // A guest not let in yet (the lobby, or a meet-by-code meeting not accepted),
                // or out: their state says which.
                (None, Some(st)) if guest_of == Some(id) => st.as_str().to_owned(),
                (None, _) => return Err(no_meeting()),
            };
            let hosts = host_names(s, id)?;
            // Hosts see their guests; the two people of a meet-by-code meeting see each other.
            let guests = if role == "host" || m.by_code { s.guests_of(id)? } else { Vec::new() };
            Ok(info(&m, &role, hosts, &guests, now))
        })
        .await
}

/// The live meeting if the caller hosts it (administrators may act as hosts of any).
async fn hosted(state: &AppState, a: &Authed, id: i64) -> Result<store::Meeting, HttpError> {
    let (me, admin) = (a.user.id, a.user.is_admin);
    let now = crate::unix_now();
    state
        .blocking(move |s| {
            let m = s.meeting(id)?.filter(|m| m.live(now)).ok_or_else(no_meeting)?;
            match s.meeting_role(id, me)?.as_deref() {
                Some("host") => Ok(m),
                Some(_) if admin => Ok(m),
                Some(_) => Err(HttpError::forbidden("only the meeting's hosts can do this")),
                None => Err(no_meeting()),
            }
        })
        .await
}

fn title_of(raw: Option<&str>) -> Result<String, HttpError> {
    match raw.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok("Meeting".to_owned()),
        Some(t) => auth::names::normalize_display_name(t)
            .map_err(|e| invalid("title", format!("the title is not acceptable: {e}"))),
    }
}

/// Create a meeting hosted by the caller: it gets an unguessable link and a 12-digit code.
#[utoipa::path(post, path = "/api/v1/meetings", tag = "meetings", request_body = CreateMeeting,
    responses((status = 201, body = MeetingInfo), (status = 403, description = "guest_forbidden", body = ApiError),
        (status = 422, description = "invalid_field: title or times", body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    a: Authed,
    _budget: crate::budget::Budget,
    ApiJson(req): ApiJson<CreateMeeting>,
) -> Result<(StatusCode, Json<MeetingInfo>), HttpError> {
    let title = title_of(req.title.as_deref())?;
    let now = crate::unix_now();
    let max = state.config.meetings.max_duration.as_secs() as i64;
    let start = req.starts_at.unwrap_or(now);
    if !(now - 86_400..=now + 366 * 86_400).contains(&start) {
        return Err(invalid("starts_at", "the start must be within the next year"));
    }
    let ends_at = req.ends_at.unwrap_or(start.max(now) + max);
    if ends_at <= now || ends_at <= start {
        return Err(invalid("ends_at", "the end must be in the future and after the start"));
    }
    if ends_at - start > max {
        return Err(invalid("ends_at", format!("a meeting may last at most {} hours", max / 3600)));
    }
    let access = req.access.map(access_from_proto).unwrap_or(store::MeetingAccess::Lobby);
    let me = a.user.id;
    let m = state
        .blocking(move |s| {
            // 10^12 codes: a clash with a live one is rare; draw again when it happens.
            for _ in 0..8 {
                let new = store::NewMeeting {
                    title: title.clone(),
                    link_token: meetings::new_link_token(),
                    code: Some(meetings::new_meeting_code()),
                    created_by: Some(me),
                    starts_at: req.starts_at,
                    ends_at,
                    access,
                };
                match s.create_meeting(&new, now) {
                    Err(store::StoreError::CodeTaken) => continue,
                    other => return Ok(other?),
                }
            }
            Err(HttpError::internal("meeting code", "no free code after 8 draws"))
        })
        .await?;
    tracing::info!(meeting = m.id, user_id = me, "meeting created");
    Ok((StatusCode::CREATED, Json(view(&state, &a, m.id).await?)))
}

/// The live meetings the caller hosts, soonest first (with link, code and guests); for a
/// guest, their own meeting (whatever their state in it).
#[utoipa::path(get, path = "/api/v1/meetings", tag = "meetings", responses((status = 200, body = Vec<MeetingInfo>)))]
pub async fn list(State(state): State<AppState>, a: Authed) -> Result<Json<Vec<MeetingInfo>>, HttpError> {
    if let Some((g, _)) = &a.guest {
        return Ok(Json(vec![view(&state, &a, g.meeting).await?]));
    }
    let me = a.user.id;
    let now = crate::unix_now();
    let ids = state.blocking(move |s| Ok(s.meetings_hosted_by(me, now)?)).await?;
    let mut out = Vec::with_capacity(ids.len());
    for m in ids {
        out.push(view(&state, &a, m.id).await?);
    }
    Ok(Json(out))
}

/// One meeting the caller is in (hosts also see link, code and guests).
#[utoipa::path(get, path = "/api/v1/meetings/{id}", tag = "meetings", params(("id" = i64, Path)),
    responses((status = 200, body = MeetingInfo), (status = 404, description = "no_such_meeting", body = ApiError)))]
pub async fn get(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<MeetingInfo>, HttpError> {
    Ok(Json(view(&state, &a, id).await?))
}

/// A host changes who may come in: `members`, `lobby` or `locked`.
#[utoipa::path(patch, path = "/api/v1/meetings/{id}", tag = "meetings", params(("id" = i64, Path)),
    request_body = UpdateMeeting, responses((status = 200, body = MeetingInfo),
        (status = 403, description = "forbidden: not a host", body = ApiError), (status = 404, body = ApiError)))]
pub async fn update(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<UpdateMeeting>,
) -> Result<Json<MeetingInfo>, HttpError> {
    hosted(&state, &a, id).await?;
    let access = access_from_proto(req.access);
    state.blocking(move |s| Ok(s.set_meeting_access(id, access)?)).await?;
    Ok(Json(view(&state, &a, id).await?))
}

/// A host ends the meeting for everyone: guests are out, members leave its call.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/end", tag = "meetings", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn end(State(state): State<AppState>, a: Authed, ApiPath(id): ApiPath<i64>) -> Result<StatusCode, HttpError> {
    hosted(&state, &a, id).await?;
    wiring(&state).end(id, "ended").await;
    Ok(StatusCode::NO_CONTENT)
}

/// A guest of this meeting, for its host.
async fn guest_of(state: &AppState, meeting: i64, user: i64) -> Result<store::Guest, HttpError> {
    state
        .blocking(move |s| s.guest(user)?.filter(|g| g.meeting == meeting).ok_or_else(|| HttpError::not_found("guest")))
        .await
}

async fn set_guest(state: &AppState, user: i64, to: store::GuestState) -> Result<store::Guest, HttpError> {
    let now = crate::unix_now();
    state
        .blocking(move |s| match s.set_guest_state(user, to, now) {
            Err(store::StoreError::Forbidden) => Err(HttpError::new(
                StatusCode::CONFLICT,
                ErrorCode::NotAllowed,
                "this guest is out already; they must ask again and be admitted as a new guest",
            )),
            other => Ok(other?),
        })
        .await
}

/// A host lets a waiting guest in.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/guests/{user_id}/admit", tag = "meetings",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn admit(
    State(state): State<AppState>,
    a: Authed,
    ApiPath((id, user)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, HttpError> {
    let m = hosted(&state, &a, id).await?;
    guest_of(&state, id, user).await?;
    set_guest(&state, user, store::GuestState::Admitted).await?;
    let w = wiring(&state);
    w.admitted(&m, vec![user]).await;
    w.lobby_changed(id, None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A host turns a waiting guest away. They cannot come back with the same session.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/guests/{user_id}/reject", tag = "meetings",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn reject(
    State(state): State<AppState>,
    a: Authed,
    ApiPath((id, user)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, HttpError> {
    put_out(&state, &a, id, user, store::GuestState::Rejected, "rejected").await
}

/// A host takes a guest out of the meeting (and its call), for good.
#[utoipa::path(delete, path = "/api/v1/meetings/{id}/guests/{user_id}", tag = "meetings",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn remove_guest(
    State(state): State<AppState>,
    a: Authed,
    ApiPath((id, user)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, HttpError> {
    put_out(&state, &a, id, user, store::GuestState::Removed, "removed").await
}

async fn put_out(
    state: &AppState,
    a: &Authed,
    id: i64,
    user: i64,
    to: store::GuestState,
    reason: &'static str,
) -> Result<StatusCode, HttpError> {
    let m = hosted(state, a, id).await?;
    guest_of(state, id, user).await?;
    set_guest(state, user, to).await?;
    tracing::info!(meeting = id, guest = user, reason, "guest out");
    let w = wiring(state);
    w.guest_out(m.conv, user, reason).await;
    w.lobby_changed(id, None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller as a guest of meeting `id`, with that meeting, for a guest's own steps
/// (accept, decline, leave). Its hosts and members know the meeting exists: they are told the
/// step is not theirs (403) rather than that there is no such meeting (404, for everyone else).
async fn own_guest<'a>(
    state: &AppState,
    a: &'a Authed,
    id: i64,
) -> Result<(&'a store::Guest, &'a store::Meeting), HttpError> {
    if let Some((g, m)) = &a.guest {
        if g.meeting == id {
            return Ok((g, m));
        }
    }
    let me = a.user.id;
    match state.blocking(move |s| Ok(s.meeting_role(id, me)?)).await? {
        Some(_) => {
            Err(HttpError::new(StatusCode::FORBIDDEN, ErrorCode::NotAllowed, "this is a step for the meeting's guests"))
        }
        None => Err(no_meeting()),
    }
}

/// A meet-by-code step in a meeting that was not made by code, or is over.
fn not_by_code(m: &store::Meeting) -> HttpError {
    if m.by_code {
        no_meeting()
    } else {
        HttpError::new(StatusCode::CONFLICT, ErrorCode::NotAllowed, "this meeting was not made by code")
    }
}

/// Meet-by-code: the caller accepts the person they were matched with. Once both have,
/// both get `meeting_admitted`.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/accept", tag = "meetings", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, description = "not_allowed: the caller hosts or is a member of it, not a guest", body = ApiError),
        (status = 404, body = ApiError), (status = 409, description = "not_allowed: nobody to meet yet, or not made by code", body = ApiError)))]
pub async fn accept(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, HttpError> {
    let (g, m) = own_guest(&state, &a, id).await?;
    if !m.by_code || !m.live(crate::unix_now()) {
        return Err(not_by_code(m));
    }
    let me = g.user.id;
    let now = crate::unix_now();
    let guests = state
        .blocking(move |s| {
            let all = s.guests_of(id)?;
            if all.len() < 2 {
                return Err(HttpError::new(StatusCode::CONFLICT, ErrorCode::NotAllowed, "nobody to meet yet"));
            }
            s.set_guest_state(me, store::GuestState::Admitted, now)?;
            Ok(s.guests_of(id)?)
        })
        .await?;
    if guests.iter().all(|g| g.state == store::GuestState::Admitted) {
        wiring(&state).admitted(m, guests.iter().map(|g| g.user.id).collect()).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Meet-by-code: the caller declines the person they were matched with; it ends for both.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/decline", tag = "meetings", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, description = "not_allowed: the caller hosts or is a member of it, not a guest", body = ApiError),
        (status = 404, body = ApiError)))]
pub async fn decline(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, HttpError> {
    own_guest(&state, &a, id).await?;
    state.meetings.rendezvous.lock().await.leave(id);
    wiring(&state).end(id, "declined").await;
    Ok(StatusCode::NO_CONTENT)
}

/// A guest leaves (the lobby or the meeting) for good; a meet-by-code meeting ends with it.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/leave", tag = "meetings", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, description = "not_allowed: the caller hosts or is a member of it, not a guest", body = ApiError),
        (status = 404, body = ApiError)))]
pub async fn leave(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, HttpError> {
    let (g, m) = own_guest(&state, &a, id).await?;
    let w = wiring(&state);
    if m.by_code {
        // Two people met: one leaving ends it for the other too.
        state.meetings.rendezvous.lock().await.leave(id);
        w.end(id, "ended").await;
    } else {
        set_guest(&state, g.user.id, store::GuestState::Gone).await?;
        w.guest_out(m.conv, g.user.id, "left").await;
        w.lobby_changed(id, None).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Runs `f`, then waits until `floor` has passed since `started`: an attempt with a link or
/// code takes the same time whether it found something or not.
async fn padded<T>(floor: std::time::Duration, f: impl Future<Output = T>) -> T {
    let started = tokio::time::Instant::now();
    let out = f.await;
    tokio::time::sleep_until(started + floor).await;
    out
}

/// A member's session from the cookie (with its CSRF token checked), if the caller has one.
async fn member_session(state: &AppState, headers: &HeaderMap) -> Result<Option<store::User>, HttpError> {
    let Some(token) = crate::cookie::session_token(headers) else { return Ok(None) };
    let hash = auth::token::hash_token(&token);
    let now = crate::unix_now();
    let found = state.blocking(move |s| Ok(s.session_by_token_hash(&hash, now)?)).await?;
    let Some((session, user)) = found.filter(|(_, u)| u.source != store::AccountSource::Guest) else {
        return Ok(None);
    };
    let sent = headers.get(crate::extract::CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !auth::token::constant_time_eq(sent, &session.csrf_token) {
        return Err(HttpError::csrf("missing or wrong X-CSRF-Token header"));
    }
    Ok(Some(user))
}

fn guest_name(raw: Option<&str>) -> Result<String, HttpError> {
    let raw = raw.ok_or_else(|| invalid("name", "guests give a display name"))?;
    auth::names::normalize_display_name(raw).map_err(|e| invalid("name", format!("the name is not acceptable: {e}")))
}

fn guest_username() -> String {
    // `~` is not allowed in usernames: nobody can sign in as a guest or take the name.
    let b = auth::token::random_bytes::<8>();
    format!("guest~{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

/// A guest account waiting in `meeting`, with a session that ends with the meeting.
async fn new_guest(
    state: &AppState,
    meeting: &store::Meeting,
    name: String,
    headers: &HeaderMap,
) -> Result<(store::Guest, proto::rest::SessionInfo, header::HeaderValue), HttpError> {
    let now = crate::unix_now();
    let id = meeting.id;
    let guest = state
        .blocking(move |s| loop {
            match s.create_guest(id, &guest_username(), &name, now) {
                Err(store::StoreError::UsernameTaken) => continue,
                other => return Ok(other?),
            }
        })
        .await?;
    let (info, cookie) = super::session::new_session(state, guest.user.clone(), headers, Some(meeting.ends_at)).await?;
    Ok((guest, info, cookie))
}

fn with_cookie(body: JoinedMeeting, status: StatusCode, cookie: Option<header::HeaderValue>) -> Response {
    let mut resp = (status, Json(body)).into_response();
    if let Some(c) = cookie {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    resp
}

/// Come into a meeting by its link token or code. A member (session cookie) is in at once
/// unless it is locked; anyone else becomes a guest waiting in the lobby (`name` required).
/// Limited per address and globally; every attempt takes the same minimum time.
#[utoipa::path(post, path = "/api/v1/meet/join", tag = "meetings", request_body = JoinMeeting,
    responses((status = 200, description = "a member joined, or a guest waits in the lobby (guest session cookie set)", body = JoinedMeeting),
        (status = 403, description = "meeting_locked, disabled (guest access off)", body = ApiError),
        (status = 404, description = "no_such_meeting", body = ApiError),
        (status = 422, description = "invalid_field: name", body = ApiError),
        (status = 429, description = "rate_limited", body = ApiError)))]
pub async fn join(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<JoinMeeting>,
) -> Result<Response, HttpError> {
    let floor = state.config.meetings.attempt_floor;
    padded(floor, join_inner(&state, peer, &headers, req)).await
}

async fn join_inner(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    req: JoinMeeting,
) -> Result<Response, HttpError> {
    let ip = peer.ip();
    state.meetings.attempt(ip).map_err(HttpError::rate_limited)?;
    let member = member_session(state, headers).await?;
    let now = crate::unix_now();
    let found = match (req.link, req.code) {
        (Some(link), None) if link.len() <= 64 => state.blocking(move |s| Ok(s.meeting_by_link(&link)?)).await?,
        (None, Some(code)) => match meetings::normalize_meeting_code(&code) {
            Some(code) => state.blocking(move |s| Ok(s.meeting_by_code(&code)?)).await?,
            None => None,
        },
        (Some(_), Some(_)) | (None, None) => {
            return Err(invalid("link", "give either the meeting's link or its code"));
        }
        (Some(_), None) => None,
    };
    let Some(m) = found.filter(|m| m.live(now) && !m.by_code) else {
        return Err(no_meeting());
    };
    state.meetings.found(ip);
    if let Some(user) = member {
        let (id, uid) = (m.id, user.id);
        let role = state.blocking(move |s| Ok(s.meeting_role(id, uid)?)).await?;
        if role.is_none() {
            if m.access == store::MeetingAccess::Locked {
                return Err(locked());
            }
            state.blocking(move |s| Ok(s.join_meeting(id, uid, now)?)).await?;
        }
        let role = role.unwrap_or_else(|| "member".to_owned());
        let hosts = hosts_names(state, m.id).await?;
        let body = JoinedMeeting {
            meeting: info(&m, &role, hosts, &[], now),
            state: "joined".into(),
            session: None,
            peer: None,
            window_secs: None,
        };
        return Ok(with_cookie(body, StatusCode::OK, None));
    }
    if !state.config.meetings.guests {
        return Err(HttpError::new(StatusCode::FORBIDDEN, ErrorCode::Disabled, "guest access is turned off here"));
    }
    if m.access != store::MeetingAccess::Lobby {
        return Err(locked());
    }
    let name = guest_name(req.name.as_deref())?;
    let (guest, session, cookie) = new_guest(state, &m, name, headers).await?;
    tracing::info!(meeting = m.id, guest = guest.user.id, "guest waiting in the lobby");
    wiring(state).lobby_changed(m.id, Some(guest.user.id)).await;
    let hosts = hosts_names(state, m.id).await?;
    let body = JoinedMeeting {
        meeting: info(&m, "guest", hosts, &[], now),
        state: "waiting".into(),
        session: Some(session),
        peer: None,
        window_secs: None,
    };
    Ok(with_cookie(body, StatusCode::OK, Some(cookie)))
}

/// Display names of the meeting's hosts (a host whose account is gone is left out).
fn host_names(s: &dyn store::Store, meeting: i64) -> Result<Vec<String>, store::StoreError> {
    let mut names = Vec::new();
    for h in s.meeting_hosts(meeting)? {
        if let Some(u) = s.user_by_id(h)? {
            names.push(u.display_name);
        }
    }
    Ok(names)
}

async fn hosts_names(state: &AppState, meeting: i64) -> Result<Vec<String>, HttpError> {
    state.blocking(move |s| Ok(host_names(s, meeting)?)).await
}

/// Meet by code: the first to type a code waits up to the window (default 100 s); the next
/// to type the same code is matched with them, and both are asked to accept. A used code
/// is refused (410 `code_used`) for a day.
#[utoipa::path(post, path = "/api/v1/meet/code", tag = "meetings", request_body = MeetByCode,
    responses((status = 200, description = "`waiting` (first at the code) or `matched`; guest session cookie set", body = JoinedMeeting),
        (status = 403, description = "disabled: meet-by-code is turned off", body = ApiError),
        (status = 410, description = "code_used", body = ApiError),
        (status = 422, description = "invalid_field: code or name", body = ApiError),
        (status = 429, description = "rate_limited", body = ApiError)))]
pub async fn meet_by_code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<MeetByCode>,
) -> Result<Response, HttpError> {
    let floor = state.config.meetings.attempt_floor;
    padded(floor, code_inner(&state, peer, &headers, req)).await
}

async fn code_inner(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    req: MeetByCode,
) -> Result<Response, HttpError> {
    let cfg = &state.config.meetings;
    if !cfg.meet_by_code || !cfg.guests {
        return Err(HttpError::new(StatusCode::FORBIDDEN, ErrorCode::Disabled, "meeting by code is turned off here"));
    }
    let ip = peer.ip();
    state.meetings.attempt(ip).map_err(HttpError::rate_limited)?;
    let key = meetings::meet_key(&req.code).map_err(|e| invalid("code", e.message()))?;
    let name = guest_name(Some(&req.name))?;
    let now = crate::unix_now();
    let hash = key.to_vec();
    if state.blocking(move |s| Ok(s.code_burnt(&hash, now)?)).await? {
        return Err(HttpError::new(
            StatusCode::GONE,
            ErrorCode::CodeUsed,
            "this code was used already; agree on another one",
        ));
    }
    let mut rdv = state.meetings.rendezvous.lock().await;
    let window = rdv.window();
    let arrival = rdv.arrive(&key, Instant::now());
    let matched = match arrival {
        meetings::Arrival::Full => {
            return Err(HttpError::rate_limited(std::time::Duration::from_secs(10)));
        }
        meetings::Arrival::Matched(w) => {
            let id = w.meeting;
            state.blocking(move |s| Ok(s.meeting(id)?)).await?.filter(|m| m.live(now)).map(|m| (m, w.guest))
        }
        meetings::Arrival::First => None,
    };
    match matched {
        Some((m, first)) => {
            state.meetings.found(ip);
            let (guest, session, cookie) = new_guest(state, &m, name.clone(), headers).await?;
            let (hash, until) = (key.to_vec(), now + cfg.code_burn.as_secs() as i64);
            state.blocking(move |s| Ok(s.burn_code(&hash, until, now)?)).await?;
            drop(rdv);
            let first_name =
                state.blocking(move |s| Ok(s.user_by_id(first)?.map(|u| u.display_name).unwrap_or_default())).await?;
            let msg = proto::ws::ServerMessage::MeetingMatched { seq: 0, meeting: m.id, peer: name };
            state.hub.input(hub::Input::Push { devices: vec![], users: vec![first], msg: Box::new(msg) }).await;
            tracing::info!(meeting = m.id, guest = guest.user.id, "met by code");
            let body = JoinedMeeting {
                meeting: info(&m, "guest", Vec::new(), &[], now),
                state: "matched".into(),
                session: Some(session),
                peer: Some(first_name),
                window_secs: None,
            };
            Ok(with_cookie(body, StatusCode::OK, Some(cookie)))
        }
        None => {
            // Nobody waits here: from the outside this is a guess that found nothing (charged).
            let new = store::NewMeeting {
                title: "Meet by code".into(),
                link_token: meetings::new_link_token(),
                code: None,
                created_by: None,
                starts_at: None,
                ends_at: now + cfg.max_duration.as_secs() as i64,
                access: store::MeetingAccess::Locked,
            };
            let m = state.blocking(move |s| Ok(s.create_meeting(&new, now)?)).await?;
            let (guest, session, cookie) = new_guest(state, &m, name, headers).await?;
            let waiting = rdv.wait(key, m.id, guest.user.id, Instant::now());
            drop(rdv);
            // Nobody came within the window: the meeting ends and the waiting guest is told.
            let (st, until) = (state.clone(), waiting.until);
            tokio::spawn(async move {
                tokio::time::sleep_until(until.into()).await;
                let expired = st.meetings.rendezvous.lock().await.expire(Instant::now());
                for w in expired {
                    wiring(&st).end(w.meeting, "nobody_came").await;
                }
            });
            let body = JoinedMeeting {
                meeting: info(&m, "guest", Vec::new(), &[], now),
                state: "waiting".into(),
                session: Some(session),
                peer: None,
                window_secs: Some(window.as_secs()),
            };
            Ok(with_cookie(body, StatusCode::OK, Some(cookie)))
        }
    }
}
