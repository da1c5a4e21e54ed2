//! Attachments over REST: upload a file to a conversation (it becomes a message of kind
//! `file`), download it as a member, see the limits. Non-members get the same 404 as for
//! something that does not exist.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use proto::chat::{validate_client_id, AttachmentLimits, ChatMessage};
use proto::{ApiError, ErrorCode};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::api::conversations::{posted, write_through};
use crate::attachments::range::{self, RangeAnswer};
use crate::attachments::{self, disk, MimeError, UploadError};
use crate::chat::Op;
use crate::error::HttpError;
use crate::extract::{ApiPath, ApiQuery, Authed};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name on the uploader's device (it is made safe: see `Attachment.name`).
    pub name: String,
    /// Chosen by the client, unique per message: a retried upload returns the first message.
    #[param(pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub client_id: String,
}

fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if mb >= 10.0 || mb.fract() == 0.0 {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.1} MB")
    }
}

fn too_large(limit: u64) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::BodyTooLarge,
        format!("files can be at most {} on this server", megabytes(limit)),
    )
}

fn upload_error(e: UploadError) -> HttpError {
    match e {
        UploadError::TooLarge { limit } => too_large(limit),
        e @ (UploadError::Short { .. } | UploadError::Body(_)) => {
            HttpError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidBody, e.to_string())
        }
        UploadError::Io(e) => HttpError::internal("storing an upload", e),
    }
}

/// Upload a file to a conversation you are a member of: the body is the file's bytes, with
/// its type as `Content-Type` (not a form). It is stored before the reply and appears in the
/// conversation as a message of kind `file` (201; 200 with the first message for a retried
/// `client_id`).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/attachments", tag = "chat",
    params(("id" = i64, Path, description = "conversation id"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file's bytes"),
    responses((status = 201, body = ChatMessage), (status = 200, description = "a retry", body = ChatMessage),
        (status = 400, description = "the upload ended early", body = ApiError),
        (status = 403, description = "not a contact any more, or blocked", body = ApiError),
        (status = 404, body = ApiError),
        (status = 413, description = "body_too_large (the limit is named) or quota_exceeded", body = ApiError),
        (status = 415, description = "no type, or a form encoding", body = ApiError),
        (status = 422, body = ApiError), (status = 429, body = ApiError)))]
pub async fn upload(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(conv): ApiPath<i64>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ChatMessage>), HttpError> {
    let me = a.user.id;
    let cfg = &state.attachments.config;
    validate_client_id(&q.client_id).map_err(|e| {
        HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField, e.message()).field("client_id")
    })?;
    let name = auth::names::sanitize_file_name(&q.name);
    let mime = attachments::upload_mime(headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes())).map_err(|e| {
        let why = match e {
            MimeError::Form => "send the file's bytes as the request body, not a form",
            MimeError::Missing | MimeError::Malformed => "give the file's type as Content-Type (type/subtype)",
        };
        HttpError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType, why)
    })?;
    let declared = match headers.get(header::CONTENT_LENGTH) {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(|s| s.parse::<u64>().ok()).ok_or_else(|| {
            HttpError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidBody, "Content-Length is not a number")
        })?),
    };
    // Everything that can be refused is refused before a byte of the body is read.
    if declared.is_some_and(|d| d > cfg.max_file_bytes) {
        return Err(too_large(cfg.max_file_bytes));
    }
    state.chat_rate(me)?;
    let used = state
        .blocking(move |s| {
            if s.conversation(me, conv)?.is_none() {
                return Err(HttpError::not_found("conversation"));
            }
            Ok(s.attachment_usage(me)?)
        })
        .await?;
    let room = cfg.quota_bytes.saturating_sub(used.max(0) as u64);
    if declared.is_some_and(|d| d > room) {
        return Err(quota_exceeded(cfg.quota_bytes));
    }

    let received =
        state.attachments.disk.receive(body, cfg.max_file_bytes.min(room), declared).await.map_err(|e| match e {
            // Without a Content-Length the quota can only be found exceeded on the way.
            UploadError::TooLarge { .. } if room < cfg.max_file_bytes => quota_exceeded(cfg.quota_bytes),
            e => upload_error(e),
        })?;
    let token = received.token.clone();
    let described = attachments::describe(&token, &name, &mime, &received);
    let write = store::ChatWrite::SendFile {
        user: me,
        conv,
        client_id: q.client_id,
        body: serde_json::to_string(&described).map_err(|e| HttpError::internal("describing a file", e))?,
        file: store::NewAttachment {
            token: token.clone(),
            name,
            mime,
            size: received.size as i64,
            sha256: received.sha256,
        },
    };
    // From here on the file is whole: record and publish it (or drop it) even if the client
    // goes away meanwhile, so nothing is left half-done in tmp/.
    let finish = tokio::spawn(async move {
        let outcome = write_through(&state, me, Op::File(write)).await;
        if let Ok(store::ChatWritten::Message { fresh: true, .. }) = &outcome {
            state.attachments.disk.publish(&token).await.map_err(|e| HttpError::internal("publishing a file", e))?;
        } else {
            // Refused, or a retry whose first upload is stored already.
            state.attachments.disk.discard(&token).await;
        }
        posted(outcome?)
    });
    finish.await.map_err(|e| HttpError::internal("finishing an upload", e))?
}

fn quota_exceeded(quota: u64) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::QuotaExceeded,
        format!("this would take your files on the server past your quota of {}; delete some first", megabytes(quota)),
    )
}

/// Download a file posted to one of your conversations (404 for anyone else). Served as an
/// attachment, never rendered as a page; resumable with `Range`.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "chat",
    params(("id" = String, Path, description = "the attachment's token")),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
        (status = 206, description = "the requested range"),
        (status = 404, body = ApiError), (status = 416, description = "the range lies outside the file")))]
pub async fn download(
    State(state): State<AppState>,
    a: Authed,
    ApiPath(token): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    if !disk::valid_token(&token) {
        return Err(HttpError::not_found("file"));
    }
    let me = a.user.id;
    let t = token.clone();
    let row =
        state.blocking(move |s| Ok(s.attachment_for(me, &t)?)).await?.ok_or_else(|| HttpError::not_found("file"))?;
    let Some(mut file) = state.attachments.disk.open_stored(&token).await else {
        tracing::warn!("an attachment's record exists but its file does not");
        return Err(HttpError::not_found("file"));
    };
    let size = file.metadata().await.map_err(|e| HttpError::internal("reading a file", e))?.len();
    let etag = format!("\"{}\"", row.sha256);
    // A resumed download of a file that changed must start over (If-Range, RFC 9110 §13.1.5).
    let range_header = match headers.get(header::IF_RANGE) {
        Some(v) if v.as_bytes() != etag.as_bytes() => None,
        _ => headers.get(header::RANGE).map(|v| v.as_bytes()),
    };
    let (status, start, len) = match range::answer(range_header, size) {
        RangeAnswer::Full => (StatusCode::OK, 0, size),
        RangeAnswer::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        RangeAnswer::Unsatisfiable => {
            let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    if start > 0 {
        file.seek(std::io::SeekFrom::Start(start)).await.map_err(|e| HttpError::internal("reading a file", e))?;
    }
    let mut resp = Response::new(Body::from_stream(read_chunks(file, len)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    let mime = if attachments::previewable(&row.mime) { row.mime.as_str() } else { "application/octet-stream" };
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, mime.to_owned());
    set(header::CONTENT_LENGTH, len.to_string());
    set(header::CONTENT_DISPOSITION, content_disposition(&row.name));
    set(header::ACCEPT_RANGES, "bytes".to_owned());
    set(header::ETAG, etag);
    // Opened directly, it is still no page: no script, no plugins, its own origin.
    set(header::CONTENT_SECURITY_POLICY, "default-src 'none'; img-src 'self'; sandbox".to_owned());
    if status == StatusCode::PARTIAL_CONTENT {
        set(header::CONTENT_RANGE, format!("bytes {start}-{}/{size}", start + len - 1));
    }
    Ok(resp)
}

/// `attachment` with the name twice: plain ASCII for old clients, UTF-8 (RFC 8187) for the rest.
fn content_disposition(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The next `remaining` bytes of `file`, in chunks as the client takes them.
fn read_chunks(
    file: tokio::fs::File,
    remaining: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    const CHUNK: u64 = 256 * 1024;
    futures_util::stream::unfold((file, remaining), |(mut file, remaining)| async move {
        if remaining == 0 {
            return None;
        }
        let mut buf = vec![0u8; remaining.min(CHUNK) as usize];
        match file.read(&mut buf).await {
            // The file is shorter than it was: end the body early, the client sees it short.
            Ok(0) => Some((Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)), (file, 0))),
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), (file, remaining - n as u64)))
            }
            Err(e) => Some((Err(e), (file, 0))),
        }
    })
}

/// How large a file may be, your quota and how much of it your files take.
#[utoipa::path(get, path = "/api/v1/attachments/limits", tag = "chat", responses((status = 200, body = AttachmentLimits)))]
pub async fn limits(State(state): State<AppState>, a: Authed) -> Result<Json<AttachmentLimits>, HttpError> {
    let me = a.user.id;
    let used = state.blocking(move |s| Ok(s.attachment_usage(me)?)).await?;
    let cfg = &state.attachments.config;
    Ok(Json(AttachmentLimits {
        max_file_bytes: cfg.max_file_bytes,
        quota_bytes: cfg.quota_bytes,
        used_bytes: used.max(0) as u64,
        retention_days: cfg.retention.map(|r| r.as_secs() / 86400),
    }))
}
