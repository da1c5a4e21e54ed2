//! One error type for every handler, rendered as a JSON [`proto::ApiError`].

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use proto::{ApiError, ErrorCode};

#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub body: ApiError,
}

impl HttpError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { status, body: ApiError::new(code, message) }
    }

    pub fn field(mut self, field: &str) -> Self {
        self.body.field = Some(field.to_owned());
        self
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(context, error = %err, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "internal server error")
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, "not logged in")
    }

    pub fn forbidden(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn csrf(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::CsrfFailed, message)
    }

    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!("too many attempts; try again in {secs} s"),
        );
        e.body.retry_after_secs = Some(secs);
        e
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let retry = self.body.retry_after_secs;
        let mut resp = (self.status, Json(self.body)).into_response();
        if let Some(secs) = retry {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

impl From<store::StoreError> for HttpError {
    fn from(e: store::StoreError) -> Self {
        use store::StoreError as S;
        match e {
            S::UsernameTaken => {
                Self::new(StatusCode::CONFLICT, ErrorCode::UsernameTaken, "this username is already taken")
                    .field("username")
            }
            S::NotFound => Self::not_found("record"),
            S::InviteInvalid => Self::new(
                StatusCode::GONE,
                ErrorCode::InviteInvalid,
                "this link is unknown, has expired or was already used",
            ),
            S::LastAdmin => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::LastAdmin,
                "this would leave the server without an enabled administrator",
            ),
            S::Blocked => Self::new(StatusCode::FORBIDDEN, ErrorCode::NotAllowed, "not possible with this user"),
            S::NotContacts => {
                Self::new(StatusCode::FORBIDDEN, ErrorCode::NotAllowed, "only possible with your contacts")
            }
            S::Forbidden => Self::forbidden("you may not do this"),
            other if other.is_retryable() => {
                tracing::warn!(error = %other, "database unavailable");
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::DatabaseUnavailable,
                    "the database cannot be reached right now; retry shortly",
                );
                e.body.retry_after_secs = Some(2);
                e
            }
            other => Self::internal("store", other),
        }
    }
}

impl From<auth::AccountError> for HttpError {
    fn from(e: auth::AccountError) -> Self {
        use auth::AccountError as A;
        let invalid = |field: &str, msg: String| {
            Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField, msg).field(field)
        };
        match e {
            A::Username(n) => invalid("username", n.to_string()),
            A::DisplayName(n) => invalid("display_name", n.to_string()),
            A::WeakPassword(why) => invalid("password", why.to_owned()),
            A::Hash(msg) => Self::internal("password hash", msg),
            A::Store(s) => s.into(),
        }
    }
}
