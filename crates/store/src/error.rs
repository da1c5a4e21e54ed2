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
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("cannot open database: {0}")]
    Open(String),
    /// A backup or restore refused or failed; the text says why and what to do.
    #[error("{0}")]
    Backup(String),
}
