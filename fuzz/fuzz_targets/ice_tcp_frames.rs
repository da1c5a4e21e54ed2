//! The ICE-over-TCP framing (RFC 4571) against arbitrary bytes from a connection: frames come
//! out whole and in order, never more bytes than arrived, and the reader stops with an error
//! (closed, cut short) instead of panicking or allocating past a frame's 64 KiB.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfu::tcp::{frame, read_frame, FrameError};

fuzz_target!(|data: &[u8]| {
    let mut r = data;
    let mut buf = Vec::new();
    let mut framed = Vec::new();
    loop {
        match read_frame(&mut r, &mut buf) {
            Ok(()) => {
                assert!(!buf.is_empty() && buf.len() <= u16::MAX as usize);
                framed.extend(frame(&buf).expect("a frame read fits a frame"));
            }
            Err(FrameError::Closed) => break,
            Err(FrameError::Truncated) => return,
            Err(e) => panic!("reading from memory cannot fail with {e}"),
        }
    }
    // Re-framing what was read gives the input back, less the empty frames it skipped.
    let mut without_empty = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let n = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        if n > 0 {
            without_empty.extend_from_slice(&rest[..2 + n]);
        }
        rest = &rest[2 + n..];
    }
    assert_eq!(framed, without_empty);
});
