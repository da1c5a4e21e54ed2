//! The attachment endpoints' header parsers (Range, Content-Type) and the file-name
//! sanitiser, on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (size_bytes, rest) = data.split_at(data.len().min(8));
    let mut size = [0u8; 8];
    size[..size_bytes.len()].copy_from_slice(size_bytes);
    let split = rest.len() / 2;
    web::fuzzing::attachment_headers(&rest[..split], u64::from_le_bytes(size), &rest[split..]);
    let name = auth::names::sanitize_file_name(&String::from_utf8_lossy(rest));
    assert!(!name.is_empty() && !name.contains(['/', '\\']));
});
