//! Accounts for mywebrtc: the rules a username, display name and password must meet,
//! argon2id password hashing, unguessable tokens, and login rate limiting.
//!
//! Nothing here does I/O except through the [`store::Store`] handed in, and the rate
//! limiter takes the current time as an argument, so every rule is tested directly.

pub mod invites;
pub mod names;
pub mod password;
pub mod ratelimit;
pub mod token;

mod accounts;

pub use accounts::{check_new_user, prepare_new_user, AccountError};
pub use names::{normalize_display_name, normalize_username, NameError};
