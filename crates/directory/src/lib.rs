//! Sign-in with an organisation's LDAP directory (OpenLDAP, Active Directory) and the sync
//! that keeps directory accounts in step with it.
//!
//! The rules are pure and tested without a server: how a typed name becomes a search filter
//! ([`filter`]), what an entry says about a person ([`entry`]: disabled, in the access group,
//! admin), and what a sync changes ([`sync::plan`]). [`Directory`] is the thin client around
//! them: one short-lived TLS connection per operation (ldap3 over rustls), every operation
//! bounded by the configured timeout, so a slow or dead directory fails sign-ins with a clear
//! error instead of hanging them, and recovers by itself when it is back.
//!
//! Passwords: a user's password is checked by binding as that user and is never stored or
//! logged; an empty password is refused before anything is sent (an empty simple bind is an
//! anonymous bind in LDAP, which would "succeed").

mod check;
mod client;
mod config;
pub mod entry;
mod error;
pub mod filter;
pub mod sync;

pub use check::{CheckReport, CheckStep};
pub use client::Directory;
pub use config::{DirectoryConfig, Secret};
pub use entry::{DirectoryUser, Standing};
pub use error::DirectoryError;
