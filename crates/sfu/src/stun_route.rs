//! Which session a datagram on the shared media port is for, before any session sees it.
//!
//! A browser's first packets to the SFU are ICE connectivity checks: STUN binding requests
//! whose USERNAME is `<our ufrag>:<their ufrag>`. Our ufrag is unique per participant, so it
//! names the session; later packets from the same address (DTLS, SRTP) follow it.

use turn::stun::{attr, Message};

/// The server-side ufrag of a STUN binding request, or None for anything else (not STUN,
/// malformed, no USERNAME).
pub fn local_ufrag(datagram: &[u8]) -> Option<&str> {
    // RFC 7983: STUN starts with 0 or 1 in the first byte.
    if datagram.first().is_none_or(|b| *b > 3) {
        return None;
    }
    let m = Message::parse(datagram).ok()?;
    let user = m.text(attr::USERNAME)?;
    let (ours, _) = user.split_once(':')?;
    (!ours.is_empty()).then_some(ours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use turn::stun::{method, Builder, Class};

    #[test]
    fn reads_the_local_ufrag_of_a_binding_request() {
        let req =
            Builder::new(method::BINDING, Class::Request, [7; 12]).attr(attr::USERNAME, b"srv1:cli2").finish_plain();
        assert_eq!(local_ufrag(&req), Some("srv1"));
    }

    #[test]
    fn refuses_what_is_not_a_usable_binding_request() {
        let no_user = Builder::new(method::BINDING, Class::Request, [7; 12]).finish_plain();
        assert_eq!(local_ufrag(&no_user), None);
        let no_colon =
            Builder::new(method::BINDING, Class::Request, [7; 12]).attr(attr::USERNAME, b"srv1").finish_plain();
        assert_eq!(local_ufrag(&no_colon), None);
        let empty = Builder::new(method::BINDING, Class::Request, [7; 12]).attr(attr::USERNAME, b":x").finish_plain();
        assert_eq!(local_ufrag(&empty), None);
        assert_eq!(local_ufrag(&[]), None);
        assert_eq!(local_ufrag(&[0x80, 1, 2, 3]), None); // RTP
        assert_eq!(local_ufrag(&[22, 254, 253]), None); // DTLS
        assert_eq!(local_ufrag(&[0, 1, 0, 200, 0x21, 0x12]), None); // truncated STUN
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = local_ufrag(&data);
        }
    }
}
