use thiserror::Error;

/// Why a directory operation failed. The texts are shown to operators (`mywebrtc ldap test`,
/// logs); sign-in turns them into the few answers a user may see.
#[derive(Debug, Error)]
pub enum DirectoryError {
    /// The configuration cannot work (caught at start-up).
    #[error("LDAP configuration: {0}")]
    Config(String),
    /// No connection: refused, unreachable, name not resolved.
    #[error("cannot connect to the directory: {0}")]
    Connect(String),
    /// TLS failed: untrusted certificate (wrong `ca_file`), name mismatch, StartTLS refused.
    #[error("TLS with the directory failed: {0}")]
    Tls(String),
    /// The directory did not answer within the configured timeout.
    #[error("the directory did not answer within {0} s")]
    Timeout(u64),
    /// The service account's bind was refused.
    #[error("the service account cannot bind (check bind_dn and its password): {0}")]
    ServiceBind(String),
    /// A search failed (bad base DN, filter, or rights).
    #[error("directory search failed: {0}")]
    Search(String),
    /// Wrong password, empty password, or no such user: indistinguishable to the caller.
    #[error("wrong username or password")]
    InvalidCredentials,
    /// The username matches more than one entry; refused rather than guessing.
    #[error("the username matches {0} directory entries")]
    Ambiguous(usize),
}

impl DirectoryError {
    /// The directory could not be asked (as opposed to: it answered "no").
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DirectoryError::Connect(_) | DirectoryError::Tls(_) | DirectoryError::Timeout(_))
    }
}
