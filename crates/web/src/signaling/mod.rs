//! The thin tokio driver around the sans-IO [`hub::Hub`]: one task owns the hub; every
//! WebSocket has a reader (frames → hub inputs) and a writer (a bounded queue → socket).
//! A client that does not read fast enough overflows its queue and is disconnected; nothing
//! is ever buffered without limit.

mod hub_task;
pub(crate) mod socket;

pub(crate) use hub_task::spawn_hub;
pub use hub_task::HubHandle;
pub use socket::upgrade;
