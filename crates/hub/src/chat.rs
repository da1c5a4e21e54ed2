//! Chat routing. The hub checks a chat request's shape and the sender's rate, then hands it
//! to the driver as [`Output::Chat`]; the driver stores it (the hub does no I/O) and comes
//! back with [`Input::ChatDeliver`], which the hub fans out to every device of the members.

use std::time::Instant;

use proto::chat::{validate_client_id, validate_text, TextError};
use proto::ws::{ServerMessage, UserId, WsErrorCode};

use crate::core::Hub;
use crate::io::{ChatEvent, ChatOp, ChatRequest, ConnId, DeviceId, Output};

impl Hub {
    /// A chat request from a device: validated and rate-limited here, stored by the driver.
    pub(crate) fn chat_request(&mut self, dev: DeviceId, id: Option<u64>, op: ChatOp, now: Instant) {
        let Some(conn) = self.device_conn(dev) else { return };
        let Some(user) = self.devices.get(&dev).map(|d| d.user) else { return };
        let checked = match &op {
            ChatOp::Send { client_id, text, .. } => validate_client_id(client_id).and_then(|_| validate_text(text)),
            ChatOp::Edit { text, .. } => validate_text(text),
            ChatOp::Delete { .. } | ChatOp::Receipt { .. } | ChatOp::Typing { .. } => Ok(()),
        };
        if let Err(e) = checked {
            let code = if e == TextError::TooLarge { WsErrorCode::TooLarge } else { WsErrorCode::BadMessage };
            return self.reply_error(conn, id, code, e.message());
        }
        // Posting, editing and deleting count against the user's chat rate (all devices
        // together); receipts and typing only against the connection's general rate.
        if matches!(op, ChatOp::Send { .. } | ChatOp::Edit { .. } | ChatOp::Delete { .. }) {
            let (rate, burst) = (self.cfg.chat_rate_per_sec, self.cfg.chat_burst);
            let allowed = self.users.get_mut(&user).is_some_and(|u| u.chat_bucket.take(rate, burst, now));
            if !allowed {
                return self.reply_error(conn, id, WsErrorCode::RateLimited, "too many chat messages; slow down");
            }
        }
        self.out.push_back(Output::Chat(ChatRequest { conn, user, id, op }));
    }

    /// Carries out a stored chat change: the reply to the requesting connection, and the event
    /// to every device of `to` except the requesting connection's.
    pub(crate) fn chat_deliver(
        &mut self,
        reply: Option<(ConnId, ServerMessage)>,
        to: &[UserId],
        except: Option<ConnId>,
        event: Option<ChatEvent>,
    ) {
        if let Some((conn, msg)) = reply {
            if self.conns.contains_key(&conn) {
                self.reply(conn, msg);
            }
        }
        let Some(event) = event else { return };
        let skip_dev = except.and_then(|c| self.conns.get(&c)).and_then(|c| c.device);
        let devices: Vec<DeviceId> = to
            .iter()
            .filter_map(|u| self.users.get(u))
            .flat_map(|u| u.devices.iter().copied())
            .filter(|d| Some(*d) != skip_dev)
            .collect();
        for dev in devices {
            match &event {
                // Typing is only worth something now: not numbered, not replayed.
                ChatEvent::Typing { conv, user } => {
                    if let Some(conn) = self.device_conn(dev) {
                        self.reply(conn, ServerMessage::ChatTyping { conv: *conv, user: *user });
                    }
                }
                ChatEvent::Message(m) => self.push(dev, |seq| ServerMessage::ChatMessage { seq, message: m.clone() }),
                ChatEvent::Receipt { conv, user, delivered_seq, read_seq } => {
                    self.push(dev, |seq| ServerMessage::ChatReceipt {
                        seq,
                        conv: *conv,
                        user: *user,
                        delivered_seq: *delivered_seq,
                        read_seq: *read_seq,
                    })
                }
                ChatEvent::Removed { conv } => self.push(dev, |seq| ServerMessage::ChatRemoved { seq, conv: *conv }),
            }
        }
    }
}
