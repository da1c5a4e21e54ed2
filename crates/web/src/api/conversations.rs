//! Conversations over REST: list, create, rename, members, history, and posting (the REST
//! twin of the WebSocket's `chat_send`, through the same durable writer). Every handler
//! checks membership in the store; an outsider gets the same 404 as for a conversation that
//! does not exist.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use hub::{ChatEvent, ChatOp, Input};
use proto::chat::{
    validate_client_id, validate_text, AddMember, ChatMessage, Conversation, MessagePage, NewConversation, PostMessage,
    RenameConversation, TextError,
};
use proto::{ApiError, ErrorCode};
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::chat::{self, Job, Op, Origin};
use crate::error::HttpError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authed};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Messages before this `seq` (default: the newest), oldest first.
    pub before: Option<i64>,
    /// Instead: messages created or changed after this `rev`, in the order of those changes.
    pub after: Option<i64>,
    /// At most this many (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

fn invalid(field: &str, msg: &str) -> HttpError {
    HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField, msg).field(field)
}

fn group_name(raw: &str) -> Result<String, HttpError> {
    auth::names::normalize_display_name(raw).map_err(|_| {
        invalid(
            "name",
            "group name must be 1 to 64 characters, without control, zero-width or text-direction characters",
        )
    })
}

fn no_conversation() -> HttpError {
    HttpError::not_found("conversation")
}

async fn load(state: &AppState, me: i64, id: i64) -> Result<Conversation, HttpError> {
    let row = state.blocking(move |s| Ok(s.conversation(me, id)?)).await?;
    let mut c = row.as_ref().map(chat::conversation).ok_or_else(no_conversation)?;
    c.call = in_call(state, c.id);
    Ok(c)
}

/// Who is in a conversation's running group call.
fn in_call(state: &AppState, conv: i64) -> Vec<i64> {
    state.conference.as_ref().map(|c| c.users_in(conv)).unwrap_or_default()
}

/// Pushes a membership change to the members, and `chat_removed` to whoever left.
async fn announce(state: &AppState, change: store::MembershipChange, removed: Option<i64>) {
    let conv = change.message.conv;
    let event = ChatEvent::Message(chat::message(&change.message));
    state.hub.input(Input::chat_deliver(None, change.members, None, Some(event))).await;
    if let Some(user) = removed {
        // Out of the conversation's call at once, before anything else reaches them.
        if let Some(conf) = &state.conference {
            conf.remove_user(conv, user);
        }
        let event = ChatEvent::Removed { conv };
        state.hub.input(Input::chat_deliver(None, vec![user], None, Some(event))).await;
    }
}

/// The caller's conversations, most recently active first, with unread counts.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "chat", responses((status = 200, body = Vec<Conversation>)))]
pub async fn list(State(state): State<AppState>, a: Authed) -> Result<Json<Vec<Conversation>>, HttpError> {
    let me = a.user.id;
    let rows = state.blocking(move |s| Ok(s.list_conversations(me)?)).await?;
    let mut list: Vec<Conversation> = rows.iter().map(chat::conversation).collect();
    for c in &mut list {
        c.call = in_call(&state, c.id);
    }
    Ok(Json(list))
}

/// Open the direct conversation with a contact (201 if new, 200 if it existed), or create a
/// group with some of your contacts.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "chat", request_body = NewConversation,
    responses((status = 201, body = Conversation), (status = 200, body = Conversation),
        (status = 403, description = "not_allowed: not a contact, or blocked", body = ApiError),
        (status = 404, body = ApiError), (status = 422, body = ApiError), (status = 429, description = "rate_limited: this session or address spent its budget", body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    a: Authed,
    _budget: crate::budget::Budget,
    ApiJson(req): ApiJson<NewConversation>,
) -> Result<(StatusCode, Json<Conversation>), HttpError> {
    let me = a.user.id;
    let now = crate::unix_now();
    match req {
        NewConversation::Direct { user } => {
            let (id, created) = state.blocking(move |s| Ok(s.direct_conversation(me, user, now)?)).await?;
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(load(&state, me, id).await?)))
        }
        NewConversation::Group { name, members } => {
            let name = group_name(&name)?;
            if members.len() > 256 {
                return Err(invalid("members", "at most 256 members at creation"));
            }
            let (id, log) = state.blocking(move |s| Ok(s.create_group(me, &name, &members, now)?)).await?;
            let conv = load(&state, me, id).await?;
            let to: Vec<i64> = conv.members.iter().map(|m| m.user).collect();
            for m in &log {
                let event = ChatEvent::Message(chat::message(m));
                state.hub.input(Input::chat_deliver(None, to.clone(), None, Some(event))).await;
            }
            Ok((StatusCode::CREATED, Json(conv)))
        }
    }
}

/// One conversation (404 unless you are a member).
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "chat", params(("id" = i64, Path, description = "conversation id")),
    responses((status = 200, body = Conversation), (status = 404, body = ApiError)))]
pub async fn get(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Conversation>, HttpError> {
    Ok(Json(load(&state, a.user.id, id).await?))
}

/// Rename a group (any member).
#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "chat", request_body = RenameConversation, params(("id" = i64, Path, description = "conversation id")),
    responses((status = 200, body = Conversation), (status = 403, description = "a direct conversation", body = ApiError),
        (status = 404, body = ApiError)))]
pub async fn rename(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<RenameConversation>,
) -> Result<Json<Conversation>, HttpError> {
    let me = a.user.id;
    let name = group_name(&req.name)?;
    let now = crate::unix_now();
    let change = state.blocking(move |s| Ok(s.rename_group(me, id, &name, now)?)).await.map_err(not_found_as_conv)?;
    announce(&state, change, None).await;
    Ok(Json(load(&state, me, id).await?))
}

/// Add one of your contacts to a group you are in. They see the conversation from now on.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/members", tag = "chat", request_body = AddMember, params(("id" = i64, Path, description = "conversation id")),
    responses((status = 200, body = Conversation), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn add_member(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<AddMember>,
) -> Result<Json<Conversation>, HttpError> {
    let me = a.user.id;
    let now = crate::unix_now();
    let change = state.blocking(move |s| Ok(s.add_member(me, id, req.user, now)?)).await.map_err(not_found_as_conv)?;
    announce(&state, change, None).await;
    Ok(Json(load(&state, me, id).await?))
}

/// Leave a group (your own id), or, as its owner, remove a member. They stop receiving at once.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/members/{user_id}", tag = "chat",
    params(("id" = i64, Path, description = "conversation id"), ("user_id" = i64, Path, description = "the member")),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn remove_member(
    State(state): State<AppState>,
    a: Authed,
    ApiPath((id, user)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, HttpError> {
    let me = a.user.id;
    let now = crate::unix_now();
    let change = state.blocking(move |s| Ok(s.remove_member(me, id, user, now)?)).await.map_err(not_found_as_conv)?;
    announce(&state, change, Some(user)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// History: a page back from `before`, or what changed after `after` (catching up).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "chat", params(("id" = i64, Path, description = "conversation id"), HistoryQuery),
    responses((status = 200, body = MessagePage), (status = 404, body = ApiError),
        (status = 422, description = "invalid_field: limit outside 1–200", body = ApiError)))]
pub async fn messages(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<MessagePage>, HttpError> {
    let me = a.user.id;
    let limit = super::page_limit(q.limit)?;
    if q.before.is_some() && q.after.is_some() {
        return Err(HttpError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidBody, "give either before or after"));
    }
    // One extra row tells whether there is more.
    let rows = state
        .blocking(move |s| {
            Ok(match q.after {
                Some(after) => s.messages_changed_after(me, id, after, limit + 1)?,
                None => s.messages_before(me, id, q.before, limit + 1)?,
            })
        })
        .await
        .map_err(not_found_as_conv)?;
    let more = rows.len() > limit as usize;
    let rows: &[store::MessageRow] = match (more, q.after.is_some()) {
        (false, _) => &rows,
        (true, true) => &rows[..limit as usize],
        // Newest-first paging: the extra row is the oldest one.
        (true, false) => &rows[1..],
    };
    Ok(Json(MessagePage { messages: rows.iter().map(chat::message).collect(), more }))
}

/// Post a message (201; 200 with the stored original when `client_id` was seen before).
/// Durably stored before the reply.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "chat", request_body = PostMessage, params(("id" = i64, Path, description = "conversation id")),
    responses((status = 201, body = ChatMessage), (status = 200, description = "a retry", body = ChatMessage),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError),
        (status = 429, body = ApiError)))]
pub async fn post(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<PostMessage>,
) -> Result<(StatusCode, Json<ChatMessage>), HttpError> {
    validate_client_id(&req.client_id).map_err(|e| invalid("client_id", e.message()))?;
    validate_text(&req.text).map_err(|e| match e {
        TextError::TooLarge => HttpError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BodyTooLarge, e.message()),
        e => invalid("text", e.message()),
    })?;
    state.chat_rate(a.user.id)?;
    let op = ChatOp::Send { conv: id, client_id: req.client_id, text: req.text };
    posted(write_through(&state, a.user.id, op.into()).await?)
}

/// Hands a write to the chat writer and waits until it is stored, mapping a refusal to the
/// reply REST gives it (the same for a text and a file).
pub(crate) async fn write_through(state: &AppState, user: i64, op: Op) -> Result<store::ChatWritten, HttpError> {
    let (tx, rx) = oneshot::channel();
    let busy = || HttpError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Internal, "chat is busy; retry");
    state.chat.send(Job { user, op, origin: Origin::Rest(tx) }).await.map_err(|_| busy())?;
    let outcome = rx.await.map_err(|_| busy())?.map_err(|e| HttpError::internal("chat write", e))?;
    outcome.map_err(|refusal| match refusal {
        store::ChatRefusal::NotAllowed => {
            HttpError::new(StatusCode::FORBIDDEN, ErrorCode::NotAllowed, "not a contact, or blocked")
        }
        _ => no_conversation(),
    })
}

/// The reply to a post: 201 with the new message, 200 with the stored original of a retry.
pub(crate) fn posted(written: store::ChatWritten) -> Result<(StatusCode, Json<ChatMessage>), HttpError> {
    match written {
        store::ChatWritten::Message { message, fresh, .. } => {
            let status = if fresh { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(chat::message(&message))))
        }
        store::ChatWritten::Receipt { .. } => Err(HttpError::internal("chat write", "unexpected receipt")),
    }
}

fn not_found_as_conv(e: HttpError) -> HttpError {
    if e.body.code == ErrorCode::NotFound {
        no_conversation()
    } else {
        e
    }
}
