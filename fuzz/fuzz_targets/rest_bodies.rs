//! Every REST request body type (and the chat text rules) on arbitrary bytes: errors, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use proto::chat::{AddMember, NewConversation, PostMessage, RenameConversation};
use proto::rest::*;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<LoginRequest>(data);
    let _ = serde_json::from_slice::<ChangePasswordRequest>(data);
    let _ = serde_json::from_slice::<InviteCheckRequest>(data);
    let _ = serde_json::from_slice::<RegisterRequest>(data);
    let _ = serde_json::from_slice::<CreateUserRequest>(data);
    let _ = serde_json::from_slice::<UpdateUserRequest>(data);
    let _ = serde_json::from_slice::<CreateInviteRequest>(data);
    let _ = serde_json::from_slice::<NewConversation>(data);
    let _ = serde_json::from_slice::<RenameConversation>(data);
    let _ = serde_json::from_slice::<AddMember>(data);
    let _ = serde_json::from_slice::<proto::meetings::CreateMeeting>(data);
    let _ = serde_json::from_slice::<proto::meetings::UpdateMeeting>(data);
    let _ = serde_json::from_slice::<proto::meetings::JoinMeeting>(data);
    let _ = serde_json::from_slice::<proto::meetings::MeetByCode>(data);
    if let Ok(p) = serde_json::from_slice::<PostMessage>(data) {
        let _ = proto::chat::validate_client_id(&p.client_id);
        let _ = proto::chat::validate_text(&p.text);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = proto::chat::validate_text(s);
    }
});
