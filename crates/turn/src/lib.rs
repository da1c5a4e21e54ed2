//! mywebrtc's own STUN/TURN server.
//!
//! - [`stun`]: the message codec (RFC 8489), ChannelData framing;
//! - [`server`]: the sans-IO TURN core (RFC 8656): packets and time in, packets and relay
//!   sockets to open/close out;
//! - [`credentials`], [`nonce`], [`policy`]: who may allocate, and to which peers a relay may talk;
//! - [`driver`]: the tokio driver (UDP, TCP, TLS listeners; one UDP socket per relay).

pub mod credentials;
pub mod driver;
pub mod nonce;
pub mod policy;
pub mod server;
pub mod stun;
pub mod udp_batch;

pub use server::{Client, Config, Output, Server, Transport};
