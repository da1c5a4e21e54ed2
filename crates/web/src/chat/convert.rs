//! Store rows to wire types.

use proto::chat::{self, ChatMessage, Conversation, ConversationMember};

pub fn message(m: &store::MessageRow) -> ChatMessage {
    use store::MessageKind as S;
    let kind = match m.kind {
        S::Text => chat::MessageKind::Text,
        S::Created => chat::MessageKind::Created,
        S::Renamed => chat::MessageKind::Renamed,
        S::Added => chat::MessageKind::Added,
        S::Removed => chat::MessageKind::Removed,
        S::Left => chat::MessageKind::Left,
        S::File => chat::MessageKind::File,
    };
    // A file message's body is its description (see `attachments::describe`).
    let attachment = match m.kind {
        S::File if !m.deleted => serde_json::from_str::<chat::Attachment>(&m.body).ok().map(Box::new),
        _ => None,
    };
    let text = match &attachment {
        Some(a) => a.name.clone(),
        None if m.kind == S::File => String::new(),
        None => m.body.clone(),
    };
    ChatMessage {
        id: m.id,
        conv: m.conv,
        seq: m.seq,
        rev: m.rev,
        sender: m.sender,
        client_id: m.client_id.clone(),
        kind,
        text,
        created_at: m.created_at,
        edited_at: m.edited_at,
        deleted: m.deleted,
        attachment,
    }
}

pub fn conversation(c: &store::ConversationRow) -> Conversation {
    Conversation {
        id: c.id,
        kind: match c.kind {
            store::ConversationKind::Direct => chat::ConversationKind::Direct,
            store::ConversationKind::Group => chat::ConversationKind::Group,
            store::ConversationKind::Meeting => chat::ConversationKind::Meeting,
        },
        name: c.name.clone(),
        created_at: c.created_at,
        last_seq: c.last_seq,
        members: c
            .members
            .iter()
            .map(|m| ConversationMember {
                user: m.user.id,
                username: m.user.username.clone(),
                display_name: m.user.display_name.clone(),
                owner: m.owner,
                delivered_seq: m.delivered_seq,
                read_seq: m.read_seq,
            })
            .collect(),
        unread: c.unread,
        last_message: c.last_message.as_ref().map(message),
        call: Vec::new(),
    }
}
