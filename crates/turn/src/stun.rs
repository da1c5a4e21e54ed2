//! STUN messages (RFC 8489): parsing with every length checked, and building with
//! MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT. Parsing borrows the packet; nothing here
//! allocates for a message that is refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use thiserror::Error;

pub const MAGIC_COOKIE: u32 = 0x2112_A442;
pub const HEADER_LEN: usize = 20;

/// Methods this server knows.
pub mod method {
    pub const BINDING: u16 = 0x001;
    pub const ALLOCATE: u16 = 0x003;
    pub const REFRESH: u16 = 0x004;
    pub const SEND: u16 = 0x006;
    pub const DATA: u16 = 0x007;
    pub const CREATE_PERMISSION: u16 = 0x008;
    pub const CHANNEL_BIND: u16 = 0x009;
}

/// Attribute types this server reads or writes.
pub mod attr {
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    pub const USERNAME: u16 = 0x0006;
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    pub const ERROR_CODE: u16 = 0x0009;
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    pub const CHANNEL_NUMBER: u16 = 0x000C;
    pub const LIFETIME: u16 = 0x000D;
    pub const XOR_PEER_ADDRESS: u16 = 0x0012;
    pub const DATA: u16 = 0x0013;
    pub const REALM: u16 = 0x0014;
    pub const NONCE: u16 = 0x0015;
    pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
    pub const REQUESTED_ADDRESS_FAMILY: u16 = 0x0017;
    pub const EVEN_PORT: u16 = 0x0018;
    pub const REQUESTED_TRANSPORT: u16 = 0x0019;
    pub const DONT_FRAGMENT: u16 = 0x001A;
    pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
    pub const PASSWORD_ALGORITHM: u16 = 0x001D;
    pub const USERHASH: u16 = 0x001E;
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    pub const RESERVATION_TOKEN: u16 = 0x0022;
    pub const PRIORITY: u16 = 0x0024;
    pub const USE_CANDIDATE: u16 = 0x0025;
    pub const ADDITIONAL_ADDRESS_FAMILY: u16 = 0x8000;
    pub const PASSWORD_ALGORITHMS: u16 = 0x8002;
    pub const SOFTWARE: u16 = 0x8022;
    pub const FINGERPRINT: u16 = 0x8028;
    pub const ICE_CONTROLLED: u16 = 0x8029;
    pub const ICE_CONTROLLING: u16 = 0x802A;

    /// Comprehension-required attributes (0x0000–0x7FFF) this server understands; any other
    /// one in a request makes it fail with 420.
    pub fn understood(t: u16) -> bool {
        matches!(
            t,
            MAPPED_ADDRESS
                | USERNAME
                | MESSAGE_INTEGRITY
                | ERROR_CODE
                | UNKNOWN_ATTRIBUTES
                | CHANNEL_NUMBER
                | LIFETIME
                | XOR_PEER_ADDRESS
                | DATA
                | REALM
                | NONCE
                | XOR_RELAYED_ADDRESS
                | REQUESTED_ADDRESS_FAMILY
                | EVEN_PORT
                | REQUESTED_TRANSPORT
                | DONT_FRAGMENT
                | MESSAGE_INTEGRITY_SHA256
                | PASSWORD_ALGORITHM
                | USERHASH
                | XOR_MAPPED_ADDRESS
                | RESERVATION_TOKEN
                | PRIORITY
                | USE_CANDIDATE
        ) || t >= 0x8000
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Request,
    Indication,
    Success,
    Error,
}

impl Class {
    fn bits(self) -> u16 {
        match self {
            Class::Request => 0x0000,
            Class::Indication => 0x0010,
            Class::Success => 0x0100,
            Class::Error => 0x0110,
        }
    }
}

pub fn message_type(method: u16, class: Class) -> u16 {
    (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | class.bits()
}

fn split_type(t: u16) -> (u16, Class) {
    let method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80);
    let class = match t & 0x0110 {
        0x0000 => Class::Request,
        0x0010 => Class::Indication,
        0x0100 => Class::Success,
        _ => Class::Error,
    };
    (method, class)
}

/// Why bytes are not a STUN message. Such packets are dropped without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("shorter than a STUN header")]
    TooShort,
    #[error("first two bits are not zero")]
    NotStun,
    #[error("wrong magic cookie")]
    BadCookie,
    #[error("length is not a multiple of 4 or does not match the packet")]
    BadLength,
    #[error("attribute runs past the end of the message")]
    TruncatedAttribute,
    #[error("attribute after MESSAGE-INTEGRITY or FINGERPRINT")]
    AttributeAfterIntegrity,
    #[error("FINGERPRINT does not match")]
    BadFingerprint,
}

/// One parsed message, borrowing the packet.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub method: u16,
    pub class: Class,
    pub transaction_id: [u8; 12],
    /// The whole message (header included).
    pub raw: &'a [u8],
    /// Attributes in order, with the offset of each attribute's header in `raw`.
    attrs: Vec<(u16, usize, &'a [u8])>,
}

impl<'a> Message<'a> {
    /// Parses one message occupying exactly `buf` (for TCP, the framing layer cuts it out).
    pub fn parse(buf: &'a [u8]) -> Result<Self, ParseError> {
        if buf.len() < HEADER_LEN {
            return Err(ParseError::TooShort);
        }
        let t = u16::from_be_bytes([buf[0], buf[1]]);
        if t & 0xC000 != 0 {
            return Err(ParseError::NotStun);
        }
        let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        if u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) != MAGIC_COOKIE {
            return Err(ParseError::BadCookie);
        }
        if !len.is_multiple_of(4) || HEADER_LEN + len != buf.len() {
            return Err(ParseError::BadLength);
        }
        let (method, class) = split_type(t);
        let mut transaction_id = [0u8; 12];
        transaction_id.copy_from_slice(&buf[8..20]);
        let mut attrs = Vec::new();
        let mut off = HEADER_LEN;
        let mut sealed = false;
        while off < buf.len() {
            if off + 4 > buf.len() {
                return Err(ParseError::TruncatedAttribute);
            }
            let at = u16::from_be_bytes([buf[off], buf[off + 1]]);
            let alen = usize::from(u16::from_be_bytes([buf[off + 2], buf[off + 3]]));
            let end = off + 4 + alen;
            let padded = off + 4 + alen.div_ceil(4) * 4;
            if end > buf.len() || padded > buf.len() {
                return Err(ParseError::TruncatedAttribute);
            }
            // Only FINGERPRINT may follow MESSAGE-INTEGRITY(-SHA256); nothing follows FINGERPRINT.
            if sealed && at != attr::FINGERPRINT && at != attr::MESSAGE_INTEGRITY_SHA256 {
                return Err(ParseError::AttributeAfterIntegrity);
            }
            if at == attr::FINGERPRINT {
                if padded != buf.len() || alen != 4 {
                    return Err(ParseError::AttributeAfterIntegrity);
                }
                let want = u32::from_be_bytes([buf[off + 4], buf[off + 5], buf[off + 6], buf[off + 7]]);
                if fingerprint(&buf[..off]) != want {
                    return Err(ParseError::BadFingerprint);
                }
            }
            if at == attr::MESSAGE_INTEGRITY || at == attr::MESSAGE_INTEGRITY_SHA256 {
                sealed = true;
            }
            attrs.push((at, off, &buf[off + 4..end]));
            off = padded;
        }
        Ok(Message { method, class, transaction_id, raw: buf, attrs })
    }

    /// The first attribute of this type (later duplicates are ignored, as RFC 8489 says).
    pub fn get(&self, t: u16) -> Option<&'a [u8]> {
        self.attrs.iter().find(|(at, _, _)| *at == t).map(|(_, _, v)| *v)
    }

    pub fn all(&self, t: u16) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.attrs.iter().filter(move |(at, _, _)| *at == t).map(|(_, _, v)| *v)
    }

    /// Comprehension-required attributes this server does not understand.
    pub fn unknown_required(&self) -> Vec<u16> {
        self.attrs.iter().map(|(t, _, _)| *t).filter(|t| !attr::understood(*t)).collect()
    }

    pub fn xor_address(&self, t: u16) -> Option<SocketAddr> {
        decode_xor_address(self.get(t)?, &self.transaction_id)
    }

    pub fn u32_attr(&self, t: u16) -> Option<u32> {
        let v = self.get(t)?;
        (v.len() == 4).then(|| u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    }

    pub fn text(&self, t: u16) -> Option<&'a str> {
        std::str::from_utf8(self.get(t)?).ok()
    }

    /// Checks MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY, with `key`.
    /// Returns which one matched, or `None` if neither is present or the one present is wrong.
    pub fn verify_integrity(&self, key: &[u8]) -> Option<IntegrityKind> {
        let (kind, at) = if self.get(attr::MESSAGE_INTEGRITY_SHA256).is_some() {
            (IntegrityKind::Sha256, attr::MESSAGE_INTEGRITY_SHA256)
        } else if self.get(attr::MESSAGE_INTEGRITY).is_some() {
            (IntegrityKind::Sha1, attr::MESSAGE_INTEGRITY)
        } else {
            return None;
        };
        let (_, off, value) = *self.attrs.iter().find(|(t, _, _)| *t == at)?;
        // The length field must read as if this attribute ended the message.
        let mut head = self.raw[..off].to_vec();
        let len = (off - HEADER_LEN + 4 + value.len()) as u16;
        head[2..4].copy_from_slice(&len.to_be_bytes());
        let expected = kind.mac(key, &head);
        let ok = bool::from(subtle::ConstantTimeEq::ct_eq(value, expected.as_slice()));
        ok.then_some(kind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrityKind {
    Sha1,
    Sha256,
}

impl IntegrityKind {
    fn mac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        let alg = match self {
            IntegrityKind::Sha1 => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            IntegrityKind::Sha256 => ring::hmac::HMAC_SHA256,
        };
        ring::hmac::sign(&ring::hmac::Key::new(alg, key), data).as_ref().to_vec()
    }

    fn attr(self) -> u16 {
        match self {
            IntegrityKind::Sha1 => attr::MESSAGE_INTEGRITY,
            IntegrityKind::Sha256 => attr::MESSAGE_INTEGRITY_SHA256,
        }
    }
}

pub fn fingerprint(data: &[u8]) -> u32 {
    // CRC-32 over everything before FINGERPRINT, with the length field already covering it.
    let mut h = crc32fast::Hasher::new();
    if data.len() >= 4 {
        let len = (data.len() - HEADER_LEN + 8) as u16;
        h.update(&data[..2]);
        h.update(&len.to_be_bytes());
        h.update(&data[4..]);
    } else {
        h.update(data);
    }
    h.finalize() ^ 0x5354_554E
}

pub fn decode_xor_address(v: &[u8], tid: &[u8; 12]) -> Option<SocketAddr> {
    if v.len() < 4 {
        return None;
    }
    let port = u16::from_be_bytes([v[2], v[3]]) ^ (MAGIC_COOKIE >> 16) as u16;
    match (v[1], v.len()) {
        (0x01, 8) => {
            let x = u32::from_be_bytes([v[4], v[5], v[6], v[7]]) ^ MAGIC_COOKIE;
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(x)), port))
        }
        (0x02, 20) => {
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
            key[4..].copy_from_slice(tid);
            let mut a = [0u8; 16];
            for i in 0..16 {
                a[i] = v[4 + i] ^ key[i];
            }
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port))
        }
        _ => None,
    }
}

fn encode_xor_address(addr: SocketAddr, tid: &[u8; 12]) -> Vec<u8> {
    let port = addr.port() ^ (MAGIC_COOKIE >> 16) as u16;
    match addr.ip() {
        IpAddr::V4(ip) => {
            let mut v = vec![0, 0x01];
            v.extend_from_slice(&port.to_be_bytes());
            v.extend_from_slice(&(u32::from(ip) ^ MAGIC_COOKIE).to_be_bytes());
            v
        }
        IpAddr::V6(ip) => {
            let mut v = vec![0, 0x02];
            v.extend_from_slice(&port.to_be_bytes());
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
            key[4..].copy_from_slice(tid);
            for (i, b) in ip.octets().iter().enumerate() {
                v.push(b ^ key[i]);
            }
            v
        }
    }
}

/// Builds a message attribute by attribute.
pub struct Builder {
    buf: Vec<u8>,
    tid: [u8; 12],
}

impl Builder {
    pub fn new(method: u16, class: Class, tid: [u8; 12]) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&message_type(method, class).to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(&tid);
        Self { buf, tid }
    }

    fn set_len(&mut self) {
        let len = (self.buf.len() - HEADER_LEN) as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
    }

    pub fn attr(mut self, t: u16, v: &[u8]) -> Self {
        self.buf.extend_from_slice(&t.to_be_bytes());
        self.buf.extend_from_slice(&(v.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(v);
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
        self.set_len();
        self
    }

    pub fn u32(self, t: u16, v: u32) -> Self {
        self.attr(t, &v.to_be_bytes())
    }

    pub fn xor_address(self, t: u16, addr: SocketAddr) -> Self {
        let v = encode_xor_address(addr, &self.tid);
        self.attr(t, &v)
    }

    pub fn error(self, code: u16, reason: &str) -> Self {
        let mut v = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
        v.extend_from_slice(reason.as_bytes());
        self.attr(attr::ERROR_CODE, &v)
    }

    /// Appends MESSAGE-INTEGRITY(-SHA256) computed with `key`.
    pub fn integrity(mut self, kind: IntegrityKind, key: &[u8]) -> Self {
        let mac_len = match kind {
            IntegrityKind::Sha1 => 20,
            IntegrityKind::Sha256 => 32,
        };
        let len = (self.buf.len() - HEADER_LEN + 4 + mac_len) as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
        let mac = kind.mac(key, &self.buf);
        self.attr(kind.attr(), &mac)
    }

    /// Appends FINGERPRINT and returns the finished message.
    pub fn finish(self) -> Vec<u8> {
        let fp = fingerprint(&self.buf);
        self.u32(attr::FINGERPRINT, fp).buf
    }

    /// The finished message without FINGERPRINT.
    pub fn finish_plain(self) -> Vec<u8> {
        self.buf
    }
}

/// Whether a packet looks like ChannelData (first two bits 01) rather than STUN (00).
pub fn is_channel_data(buf: &[u8]) -> bool {
    buf.first().is_some_and(|b| b & 0xC0 == 0x40)
}

/// Channel numbers clients may bind. RFC 8656 narrowed the range to 0x4000–0x4FFF, but
/// RFC 5766 clients (coturn's among them) use up to 0x7FFF, and ChannelData is still told
/// from STUN by its first two bits, so the whole older range is accepted.
pub const CHANNEL_MIN: u16 = 0x4000;
pub const CHANNEL_MAX: u16 = 0x7FFF;

/// Splits ChannelData into channel number and payload. `exact`: the datagram is exactly one
/// message (UDP); otherwise trailing padding is allowed (TCP).
pub fn parse_channel_data(buf: &[u8], exact: bool) -> Option<(u16, &[u8])> {
    if buf.len() < 4 {
        return None;
    }
    let ch = u16::from_be_bytes([buf[0], buf[1]]);
    let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    if !(CHANNEL_MIN..=CHANNEL_MAX).contains(&ch)
        || buf.len() < 4 + len
        || (exact && buf.len() > (4 + len).div_ceil(4) * 4)
    {
        return None;
    }
    Some((ch, &buf[4..4 + len]))
}

/// ChannelData framing of `payload`; `pad`: pad to 4 bytes (required over TCP).
pub fn channel_data(ch: u16, payload: &[u8], pad: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + payload.len() + 3);
    v.extend_from_slice(&ch.to_be_bytes());
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(payload);
    if pad {
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
    }
    v
}

/// For a stream transport: how long the message starting at `buf` is (STUN or ChannelData,
/// ChannelData padded to 4), if its header is complete; `Err` if it is neither.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    match buf[0] & 0xC0 {
        0x00 => Ok(Some(HEADER_LEN + len)),
        0x40 => Ok(Some((4 + len).div_ceil(4) * 4)),
        _ => Err(ParseError::NotStun),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TID: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

    #[test]
    fn type_bits_round_trip() {
        assert_eq!(message_type(method::BINDING, Class::Request), 0x0001);
        assert_eq!(message_type(method::BINDING, Class::Success), 0x0101);
        assert_eq!(message_type(method::ALLOCATE, Class::Error), 0x0113);
        assert_eq!(message_type(method::DATA, Class::Indication), 0x0017);
        for m in [1u16, 3, 4, 6, 7, 8, 9, 0xFFF] {
            for c in [Class::Request, Class::Indication, Class::Success, Class::Error] {
                assert_eq!(split_type(message_type(m, c)), (m, c));
            }
        }
    }

    #[test]
    fn build_parse_with_integrity_and_fingerprint() {
        let key = b"key";
        let peer: SocketAddr = "192.0.2.7:4000".parse().unwrap();
        let peer6: SocketAddr = "[2001:db8::7]:4000".parse().unwrap();
        for kind in [IntegrityKind::Sha1, IntegrityKind::Sha256] {
            let raw = Builder::new(method::ALLOCATE, Class::Request, TID)
                .u32(attr::REQUESTED_TRANSPORT, 17 << 24)
                .xor_address(attr::XOR_PEER_ADDRESS, peer)
                .xor_address(attr::XOR_RELAYED_ADDRESS, peer6)
                .attr(attr::USERNAME, b"alice")
                .integrity(kind, key)
                .finish();
            let m = Message::parse(&raw).unwrap();
            assert_eq!((m.method, m.class), (method::ALLOCATE, Class::Request));
            assert_eq!(m.xor_address(attr::XOR_PEER_ADDRESS), Some(peer));
            assert_eq!(m.xor_address(attr::XOR_RELAYED_ADDRESS), Some(peer6));
            assert_eq!(m.text(attr::USERNAME), Some("alice"));
            assert_eq!(m.verify_integrity(key), Some(kind));
            assert_eq!(m.verify_integrity(b"wrong"), None);
        }
    }

    #[test]
    fn malformed_packets_are_refused() {
        let good = Builder::new(method::BINDING, Class::Request, TID).finish();
        assert_eq!(Message::parse(&good[..19]).unwrap_err(), ParseError::TooShort);
        let mut bad = good.clone();
        bad[0] = 0x80;
        assert_eq!(Message::parse(&bad).unwrap_err(), ParseError::NotStun);
        let mut bad = good.clone();
        bad[4] ^= 1;
        assert_eq!(Message::parse(&bad).unwrap_err(), ParseError::BadCookie);
        let mut bad = good.clone();
        bad[3] = 3;
        assert_eq!(Message::parse(&bad).unwrap_err(), ParseError::BadLength);
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert_eq!(Message::parse(&bad).unwrap_err(), ParseError::BadFingerprint);
        // An attribute claiming more bytes than there are.
        let mut trunc = Builder::new(method::BINDING, Class::Request, TID).attr(attr::SOFTWARE, b"abcd").finish_plain();
        trunc[22..24].copy_from_slice(&200u16.to_be_bytes());
        assert_eq!(Message::parse(&trunc).unwrap_err(), ParseError::TruncatedAttribute);
        // Something after MESSAGE-INTEGRITY.
        let after = Builder::new(method::BINDING, Class::Request, TID)
            .integrity(IntegrityKind::Sha1, b"k")
            .attr(attr::SOFTWARE, b"late")
            .finish_plain();
        assert_eq!(Message::parse(&after).unwrap_err(), ParseError::AttributeAfterIntegrity);
    }

    #[test]
    fn channel_data_framing() {
        let d = channel_data(0x4001, b"hello", true);
        assert_eq!(d.len(), 12);
        assert_eq!(parse_channel_data(&d, false), Some((0x4001, &b"hello"[..])));
        assert_eq!(parse_channel_data(&d, true), Some((0x4001, &b"hello"[..])));
        assert_eq!(parse_channel_data(&channel_data(0x3FFF, b"x", false), true), None);
        assert_eq!(parse_channel_data(&channel_data(0x8000, b"x", false), true), None);
        assert_eq!(parse_channel_data(&d[..6], false), None);
        assert_eq!(frame_len(&d), Ok(Some(12)));
        assert_eq!(frame_len(&[0xC0, 0, 0, 0]), Err(ParseError::NotStun));
    }
}
