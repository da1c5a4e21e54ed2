//! Request extractors: JSON bodies with specific errors, and the logged-in caller.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use proto::ErrorCode;
use serde::de::DeserializeOwned;

use crate::cookie;
use crate::error::HttpError;
use crate::state::AppState;

/// Like `axum::Json`, but every way a body can be wrong maps to a specific [`ErrorCode`].
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Every request body of the API is a JSON object; serde would also read a struct from
        // an array of its fields in order (`[null, true]`), which no client means.
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(rej) => return Err(json_rejection(rej)),
        };
        let value = integral_floats_as_integers(value);
        if !value.is_object() {
            return Err(HttpError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidBody,
                "the request body must be a JSON object",
            ));
        }
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(|e| HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidBody, e.to_string()))
    }
}

/// JSON has one number type: `3.0` is the integer 3 to JSON Schema (and to our OpenAPI
/// document), so a whole-number float where an integer is expected must be read as one.
fn integral_floats_as_integers(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            // Inside ±2^53 every whole float is exactly the integer it shows.
            Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(integral_floats_as_integers).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, integral_floats_as_integers(v))).collect()),
        other => other,
    }
}

/// Like `axum::extract::Query`, but a malformed query string is a JSON `invalid_body` error.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rej) => Err(HttpError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidBody, rej.body_text())),
        }
    }
}

/// Like `axum::extract::Path`, but a segment that does not parse (`/conversations/abc`, an id
/// out of range) is a JSON `invalid_field` error, as every other error of the API.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(rej) => Err(HttpError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidField, rej.body_text())),
        }
    }
}

fn json_rejection(rej: JsonRejection) -> HttpError {
    let detail = rej.body_text();
    match rej {
        JsonRejection::JsonSyntaxError(_) => HttpError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidJson, detail),
        JsonRejection::JsonDataError(_) => {
            HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidBody, detail)
        }
        JsonRejection::MissingJsonContentType(_) => HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "request body must be sent with Content-Type: application/json",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            HttpError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BodyTooLarge, "request body is too large")
        }
        other => HttpError::new(other.status(), ErrorCode::InvalidBody, other.body_text()),
    }
}

/// The caller's valid session and account. State-changing methods must also carry the
/// session's CSRF token in `X-CSRF-Token`. A guest's session only reaches the endpoints of
/// their own meeting ([`crate::guest_gate`]); everything else is 403 `guest_forbidden`.
pub struct Authed {
    pub session: store::Session,
    pub user: store::User,
    /// Set for a meeting guest: their record and meeting.
    pub guest: Option<(store::Guest, store::Meeting)>,
}

pub const CSRF_HEADER: &str = "x-csrf-token";

/// How often a session's last-seen time is written back (not on every request).
const TOUCH_EVERY_SECS: i64 = 60;

impl FromRequestParts<AppState> for Authed {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = cookie::session_token(&parts.headers).ok_or_else(HttpError::unauthenticated)?;
        let hash = auth::token::hash_token(&token);
        let now = crate::unix_now();
        let idle = state.config.session_idle.as_secs() as i64;
        let (session, user, guest) = state
            .blocking(move |s| {
                let Some((sess, user)) = s.session_by_token_hash(&hash, now)? else { return Ok(None) };
                if now - sess.last_seen_at >= TOUCH_EVERY_SECS {
                    s.touch_session(sess.id, now, now + idle)?;
                }
                let guest = match user.source {
                    store::AccountSource::Guest => {
                        // A guest account without its meeting is worth nothing: treated as logged out.
                        let Some(g) = s.guest(user.id)? else { return Ok(None) };
                        let Some(m) = s.meeting(g.meeting)? else { return Ok(None) };
                        Some((g, m))
                    }
                    _ => None,
                };
                Ok(Some((sess, user, guest)))
            })
            .await?
            .ok_or_else(HttpError::unauthenticated)?;
        if let Some((g, m)) = &guest {
            let params = axum::extract::RawPathParams::from_request_parts(parts, state).await.ok();
            let id = params.and_then(|p| p.iter().find(|(k, _)| *k == "id").and_then(|(_, v)| v.parse().ok()));
            crate::guest_gate::check(parts, id, g, m)?;
        }
        if !is_safe(&parts.method) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !auth::token::constant_time_eq(sent, &session.csrf_token) {
                return Err(HttpError::csrf("missing or wrong X-CSRF-Token header"));
            }
        }
        Ok(Authed { session, user, guest })
    }
}

/// An [`Authed`] caller who is an administrator.
pub struct Admin(pub Authed);

impl FromRequestParts<AppState> for Admin {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let authed = Authed::from_request_parts(parts, state).await?;
        if !authed.user.is_admin {
            return Err(HttpError::forbidden("administrator rights required"));
        }
        Ok(Admin(authed))
    }
}

pub fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::integral_floats_as_integers;
    use serde_json::json;

    #[test]
    fn whole_floats_read_as_integers_and_nothing_else_changes() {
        let v = integral_floats_as_integers(
            json!({"user_id": 3.0, "ids": [1.0, -2.0, 2.5], "x": {"n": 1e300, "s": "3.0"}}),
        );
        assert_eq!(v, json!({"user_id": 3, "ids": [1, -2, 2.5], "x": {"n": 1e300, "s": "3.0"}}));
        let id: i64 = serde_json::from_value(v["user_id"].clone()).unwrap();
        assert_eq!(id, 3);
    }
}
