//! The chat write path. The hub hands over chat requests it has checked for shape and rate;
//! one writer thread stores them in batches (one transaction, one disk flush for everything
//! that queued up meanwhile: group commit) and only then acknowledges to the sender and fans
//! the change out through the hub. REST posts join the same queue.

mod convert;
mod writer;

pub use convert::{conversation, message};
pub(crate) use writer::{queue_full_reply, spawn_writer, ChatQueue, Job, Op, Origin, QUEUE};
