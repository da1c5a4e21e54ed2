//! Client-side helpers shared by integration tests and load generators. Not part of the
//! server: it trusts any certificate, which only a test client may do.

pub mod bench;
pub mod nats;
pub mod netns;
pub mod pebble;
pub mod pki;
pub mod postgres;
pub mod process;
pub mod slapd;
pub mod ws;
