//! The one place a new account is checked and its password hashed, used by the admin CLI,
//! the admin API and invite registration alike.

use store::{NewUser, StoreError};
use thiserror::Error;

use crate::names::{normalize_display_name, normalize_username, NameError};
use crate::password;

#[derive(Debug, Error)]
pub enum AccountError {
    #[error("{0}")]
    Username(NameError),
    #[error("{0}")]
    DisplayName(NameError),
    #[error("{0}")]
    WeakPassword(&'static str),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks what someone typed for a new account, without hashing anything: the canonical
/// username and the display name (the username when none was given).
pub fn check_new_user(
    username: &str,
    display_name: Option<&str>,
    password: &str,
) -> Result<(String, String), AccountError> {
    let canonical = normalize_username(username).map_err(AccountError::Username)?;
    let display = match display_name {
        Some(d) if !d.trim().is_empty() => normalize_display_name(d).map_err(AccountError::DisplayName)?,
        _ => canonical.clone(),
    };
    if let Some(why) = password::policy_violation(password) {
        return Err(AccountError::WeakPassword(why));
    }
    Ok((canonical, display))
}

/// Validates the fields of a new account and hashes its password.
/// The display name defaults to the username as typed (before folding).
pub fn prepare_new_user(
    username: &str,
    display_name: Option<&str>,
    password: &str,
    is_admin: bool,
) -> Result<NewUser, AccountError> {
    let (canonical, display) = check_new_user(username, display_name, password)?;
    let password_hash = password::hash(password).map_err(|e| AccountError::Hash(e.to_string()))?;
    Ok(NewUser { username: canonical, display_name: display, password_hash, is_admin })
}
