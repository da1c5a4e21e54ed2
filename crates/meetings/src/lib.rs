//! Meetings without the network: the codes people type and the links they open
//! ([`codes`]), the meet-by-code rendezvous where two people who type the same code within a
//! window find each other ([`rendezvous`]), and the limiter that makes guessing either too
//! slow to pay ([`guesses`]). Everything takes the current time as an argument; the web
//! crate drives it and keeps meetings and guests in the store.

pub mod codes;
pub mod guesses;
pub mod rendezvous;

pub use codes::{meet_key, new_link_token, new_meeting_code, normalize_meeting_code, KeyError};
pub use guesses::{GuessLimiter, GuessPolicy};
pub use rendezvous::{Arrival, Rendezvous};
