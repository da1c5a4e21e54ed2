//! Which node of a cluster holds each running conference.

use crate::sql::{args, Conn};
use crate::StoreError;

pub(crate) fn room_node(c: &mut dyn Conn, conv: i64) -> Result<Option<String>, StoreError> {
    match c.opt("SELECT node FROM room_nodes WHERE conv_id = ?1", args![conv])? {
        Some(row) => Ok(Some(row.text(0)?)),
        None => Ok(None),
    }
}

/// Claims `conv`'s room for `node` if no node holds it, or if `replacing` does (a node gone);
/// the holder afterwards (run in a serializable transaction: two claims never both win).
pub(crate) fn claim_room(
    c: &mut dyn Conn,
    conv: i64,
    node: &str,
    replacing: Option<&str>,
    now: i64,
) -> Result<String, StoreError> {
    match room_node(c, conv)? {
        None => {
            c.exec("INSERT INTO room_nodes (conv_id, node, since) VALUES (?1, ?2, ?3)", args![conv, node, now])?;
            Ok(node.to_owned())
        }
        Some(held) if Some(held.as_str()) == replacing && held != node => {
            c.exec(
                "UPDATE room_nodes SET node = ?1, since = ?2 WHERE conv_id = ?3 AND node = ?4",
                args![node, now, conv, &held],
            )?;
            Ok(node.to_owned())
        }
        Some(held) => Ok(held),
    }
}

/// Gives up `node`'s claim on `conv` (its room emptied); another node's claim stays.
pub(crate) fn release_room(c: &mut dyn Conn, conv: i64, node: &str) -> Result<(), StoreError> {
    c.exec("DELETE FROM room_nodes WHERE conv_id = ?1 AND node = ?2", args![conv, node]).map(|_| ())
}

/// Gives up every claim of `node` (it starts, holding no room); how many there were.
pub(crate) fn release_rooms_of(c: &mut dyn Conn, node: &str) -> Result<u64, StoreError> {
    c.exec("DELETE FROM room_nodes WHERE node = ?1", args![node])
}
