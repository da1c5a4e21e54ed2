//! Every REST request body type decoded from arbitrary bytes: errors, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use proto::rest::*;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<LoginRequest>(data);
    let _ = serde_json::from_slice::<ChangePasswordRequest>(data);
    let _ = serde_json::from_slice::<InviteCheckRequest>(data);
    let _ = serde_json::from_slice::<RegisterRequest>(data);
    let _ = serde_json::from_slice::<CreateUserRequest>(data);
    let _ = serde_json::from_slice::<UpdateUserRequest>(data);
    let _ = serde_json::from_slice::<CreateInviteRequest>(data);
});
