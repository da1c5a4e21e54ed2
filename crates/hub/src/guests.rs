//! What a guest's connection may send: the handshake, and its meeting's chat and call.
//! Everything else (presence, 1:1 calls, file transfers, other conversations) is refused
//! with `guest_forbidden` before it reaches the rest of the hub.

use proto::ws::ClientMessage;

use crate::io::GuestScope;

/// Whether a guest scoped to `scope` may send `msg`.
pub(crate) fn may(msg: &ClientMessage, scope: GuestScope) -> bool {
    let own = |conv: i64| conv == scope.conv;
    match msg {
        ClientMessage::Hello { .. } | ClientMessage::Ping { .. } => true,
        ClientMessage::ChatSend { conv, .. }
        | ClientMessage::ChatEdit { conv, .. }
        | ClientMessage::ChatDelete { conv, .. }
        | ClientMessage::ChatReceipt { conv, .. }
        | ClientMessage::ChatTyping { conv }
        | ClientMessage::RoomJoin { conv, .. }
        | ClientMessage::RoomSdp { conv, .. }
        | ClientMessage::RoomTiles { conv, .. }
        | ClientMessage::RoomState { conv, .. }
        | ClientMessage::RoomLeave { conv, .. }
        | ClientMessage::RoomDecline { conv, .. }
        | ClientMessage::RoomModerate { conv, .. } => own(*conv),
        ClientMessage::SetPresence { .. }
        | ClientMessage::CallInvite { .. }
        | ClientMessage::CallAccept { .. }
        | ClientMessage::CallDecline { .. }
        | ClientMessage::CallHangup { .. }
        | ClientMessage::CallSignal { .. }
        | ClientMessage::CallRejoin { .. }
        | ClientMessage::FileOffer { .. }
        | ClientMessage::FileAccept { .. }
        | ClientMessage::FileDecline { .. }
        | ClientMessage::FileSignal { .. }
        | ClientMessage::FileResume { .. }
        | ClientMessage::FileEnd { .. } => false,
    }
}
