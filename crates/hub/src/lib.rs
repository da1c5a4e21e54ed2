//! The signaling hub: a sans-IO state machine.
//!
//! It owns no sockets and reads no clock. The driver (the WebSocket server in `web`) feeds
//! it [`Input`]s with the current time, asks [`Hub::poll_timeout`] when to call
//! [`Hub::handle_timeout`], and drains [`Hub::poll_output`] for messages to write, sockets to
//! close and call records to persist — the shape of `str0m` and `quinn-proto`. Everything
//! here is therefore tested deterministically (see `tests/`), property-tested over random
//! event sequences and fuzzed.
//!
//! Vocabulary:
//! - a **connection** (`ConnId`, chosen by the driver) is one WebSocket;
//! - a **device** (`DeviceId`, chosen by the hub) is one browser tab's logical presence. It
//!   survives a short disconnect: a new connection that says `hello` with the device's resume
//!   token takes it over and receives the events it missed.
//! - a **user** is online while they have at least one device.

mod bucket;
pub use bucket::Bucket;
mod calls;
mod chat;
mod cluster;
mod config;
mod core;
mod files;
mod guests;
mod io;
mod presence;
mod rejoin;
mod remote_calls;
mod remote_rooms;
mod rooms;

pub use cluster::NodeUser;
pub use config::HubConfig;
pub use core::{Hub, HubStats};
pub use io::{
    CallRecord, ChatDelivery, ChatEvent, ChatOp, ChatRequest, ConnId, DeviceId, GuestScope, Input, NodeMsg, Output,
    Relations, RoomOp, RoomRequest,
};
pub use proto::ws::{CallId, UserId};
