//! Where a conference runs when several nodes share one database.
//!
//! A conference lives on one node: the one named for its conversation in the store's
//! `room_nodes` (a claim). The first join places it on the least-loaded node alive (the
//! loads the nodes publish on the bus, this node's included); whoever joins later finds it
//! there. A claim naming a node that is no longer heard of is taken over the same way, so a
//! conference whose node died starts again elsewhere when its people join again. Claims are
//! made in a serializable transaction, so two nodes placing the same conference at once
//! agree on one.

use crate::cluster::{least_loaded, Bus};
use store::{Store, StoreError};

/// Where a conversation's conference runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    Here,
    On(String),
}

/// Placements tried before giving up (each lost only to a node that died meanwhile).
const TRIES: usize = 3;

/// Finds `conv`'s conference, or places it (blocking: runs queries).
pub(crate) fn place(store: &dyn Store, bus: &Bus, conv: i64, now: i64) -> Result<Place, StoreError> {
    for _ in 0..TRIES {
        let live = bus.live_nodes();
        let alive = |n: &str| live.iter().any(|(l, _)| l == n);
        let held = store.room_node(conv)?;
        let holder = match &held {
            Some(n) if alive(n) => n.clone(),
            _ => {
                let Some(pick) = least_loaded(&live) else { break };
                store.claim_room(conv, pick, held.as_deref(), now)?
            }
        };
        if alive(&holder) {
            return Ok(here_or(bus, holder));
        }
    }
    Err(StoreError::Db {
        kind: store::DbErrorKind::Unavailable,
        message: "no live node could take the conference".into(),
    })
}

/// The node holding `conv`'s conference now, if one runs (nothing is placed).
pub(crate) fn holder(store: &dyn Store, bus: &Bus, conv: i64) -> Result<Place, StoreError> {
    Ok(match store.room_node(conv)? {
        Some(n) if bus.live_nodes().iter().any(|(l, _)| *l == n) => here_or(bus, n),
        _ => Place::Here,
    })
}

fn here_or(bus: &Bus, node: String) -> Place {
    if node == bus.node() {
        Place::Here
    } else {
        Place::On(node)
    }
}
