//! Wire types of mywebrtc's REST API (`/api/v1`).
//!
//! Everything a client sends or receives over HTTP is declared here, once, so the
//! server, the integration tests and third-party tools agree on one shape. Request
//! bodies reject unknown fields: a misspelt field is an error, never silently ignored.

pub mod chat;
pub mod error;
pub mod meetings;
pub mod rest;
pub mod schemas;
pub mod ws;

pub use error::{ApiError, ErrorCode};
