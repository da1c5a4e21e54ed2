use thiserror::Error;

/// What can go wrong in a store call. Domain refusals are their own variants so callers
/// can answer with a specific error; everything else is a database failure.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("username already taken")]
    UsernameTaken,
    #[error("no such record")]
    NotFound,
    #[error("invite is unknown, expired or already used")]
    InviteInvalid,
    #[error("operation would leave no enabled administrator")]
    LastAdmin,
    #[error("not possible between these users")]
    Blocked,
    #[error("only contacts can do this")]
    NotContacts,
    #[error("not allowed")]
    Forbidden,
    /// A meeting's code or link token is in use already (draw another).
    #[error("meeting code or link already in use")]
    CodeTaken,
    /// The database failed; `kind` says whether trying again can help.
    #[error("database error: {message}")]
    Db { kind: DbErrorKind, message: String },
    #[error("cannot open database: {0}")]
    Open(String),
    /// A backup or restore refused or failed; the text says why and what to do.
    #[error("{0}")]
    Backup(String),
}

/// What kind of database failure a [`StoreError::Db`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// A unique constraint refused the row.
    Unique,
    /// A concurrent transaction conflicted (serialization failure, deadlock): run it again.
    Conflict,
    /// The database cannot be reached or the connection broke: try again later.
    Unavailable,
    Other,
}

impl StoreError {
    pub(crate) fn db_other(message: String) -> Self {
        StoreError::Db { kind: DbErrorKind::Other, message }
    }

    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db { kind: DbErrorKind::Unique, .. })
    }

    /// Whether the same call may succeed later (the database was unreachable or busy).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Db { kind: DbErrorKind::Conflict | DbErrorKind::Unavailable, .. })
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        let kind = match &e {
            rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
                DbErrorKind::Unique
            }
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
            {
                DbErrorKind::Conflict
            }
            _ => DbErrorKind::Other,
        };
        StoreError::Db { kind, message: e.to_string() }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        let kind = match e.code() {
            Some(c) if *c == SqlState::UNIQUE_VIOLATION => DbErrorKind::Unique,
            Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
                DbErrorKind::Conflict
            }
            Some(c) if c.code().starts_with("08") || c.code().starts_with("57P") => DbErrorKind::Unavailable,
            None if e.is_closed() || e.as_db_error().is_none() => DbErrorKind::Unavailable,
            _ => DbErrorKind::Other,
        };
        // The driver's own text; for a server-side error, the server's message and detail.
        let message = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => {
                // The driver's text alone hides the cause ("error performing TLS handshake"):
                // add its sources (the certificate the TLS library refused, and why).
                let mut text = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    text.push_str(": ");
                    text.push_str(&s.to_string());
                    source = s.source();
                }
                text
            }
        };
        StoreError::Db { kind, message }
    }
}
