//! The 1:1 call state machine.
//!
//! ```text
//!  invite ──► Ringing(callee devices) ──accept on one──► Active(caller device, callee device)
//!               │  decline / cancel / no answer /            │ hangup / device lost
//!               ▼  last ringing device gone                  ▼
//!             ended (CallFinished, unanswered)             ended (CallFinished, answered)
//! ```
//! Refused invites (busy, unavailable, not allowed) never enter the table.
//! Negotiation messages are relayed only between the two devices of an active call. What the
//! caller sends while it still rings (its offer and ICE candidates, prepared meanwhile) is
//! kept here and handed to the device that answers, right after its accept: the answer side
//! can start at once instead of waiting for `call_accepted` to reach the caller and the offer
//! to come back. Ringing devices never see it, so declining reveals none of the caller's
//! addresses.

use std::time::Instant;

use proto::ws::{
    CallId, EndReason, HangupReason, Media, ServerMessage, UserId, WsErrorCode, MAX_HELD_SIGNALS,
    MAX_HELD_SIGNAL_BYTES, MAX_SIGNAL_BYTES,
};

use crate::core::{Hub, Timer};
use crate::io::{CallRecord, DeviceId, Output};

#[derive(Debug, Clone)]
pub(crate) enum CallState {
    /// The callee's devices that ring, and what the caller sent meanwhile.
    Ringing(Vec<DeviceId>, Held),
    /// The callee's device that answered.
    Active(DeviceId),
}

#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub caller: UserId,
    pub caller_dev: DeviceId,
    pub callee: UserId,
    pub media: Media,
    pub state: CallState,
    pub started: Instant,
    pub answered: Option<Instant>,
}

/// The caller's signals sent while the call rings, for the device that answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Held {
    signals: Vec<serde_json::Value>,
    /// Their total size in bytes of JSON.
    bytes: usize,
}

impl Held {
    /// Keeps one signal of `len` bytes; false once [`MAX_HELD_SIGNALS`] or
    /// [`MAX_HELD_SIGNAL_BYTES`] would be exceeded.
    fn keep(&mut self, data: serde_json::Value, len: usize) -> bool {
        if self.signals.len() >= MAX_HELD_SIGNALS || self.bytes + len > MAX_HELD_SIGNAL_BYTES {
            return false;
        }
        self.signals.push(data);
        self.bytes += len;
        true
    }
}

impl Call {
    pub(crate) fn participant(&self, dev: DeviceId) -> bool {
        dev == self.caller_dev
            || match &self.state {
                CallState::Ringing(devs, _) => devs.contains(&dev),
                CallState::Active(d) => *d == dev,
            }
    }
}

impl Hub {
    fn new_call_id(&mut self) -> CallId {
        let id = self.next_call;
        self.next_call += 1;
        id
    }

    fn dev_user(&self, dev: DeviceId) -> Option<UserId> {
        self.devices.get(&dev).map(|d| d.user)
    }

    /// Replies to a device's request with an error (calls and file transfers).
    pub(crate) fn error_to(&mut self, dev: DeviceId, id: Option<u64>, code: WsErrorCode) {
        if self.send_to_proxy(dev, ServerMessage::Error { id, code, message: code.default_message().to_owned() }) {
            return;
        }
        if let Some(conn) = self.device_conn(dev) {
            self.reply_error(conn, id, code, code.default_message());
        }
    }

    pub(crate) fn ok_to(&mut self, dev: DeviceId, id: Option<u64>) {
        if let Some(id) = id {
            if self.send_to_proxy(dev, ServerMessage::Ok { id }) {
                return;
            }
        }
        if let Some(conn) = self.device_conn(dev) {
            self.reply_ok(conn, id);
        }
    }

    pub(crate) fn call_invite(&mut self, dev: DeviceId, id: Option<u64>, callee: UserId, media: Media, now: Instant) {
        let Some(caller) = self.dev_user(dev) else { return };
        if self.devices.get(&dev).is_some_and(|d| d.call.is_some()) {
            return self.error_to(dev, id, WsErrorCode::AlreadyInCall);
        }
        let call_id = self.new_call_id();
        let refuse = |hub: &mut Hub, reason: EndReason| {
            hub.push(dev, |seq| ServerMessage::CallEnded { seq, id, call_id, reason });
        };
        if callee == caller || !self.may_call(caller, callee) {
            return refuse(self, EndReason::NotAllowed);
        }
        let mut ringing: Vec<DeviceId> = self.users.get(&callee).map(|u| u.devices.clone()).unwrap_or_default();
        // The callee's devices on the other nodes of a cluster ring too.
        for (node, rdev) in self.remote.devices(callee) {
            let proxy = self.proxy(&node, rdev, callee);
            ringing.push(proxy);
        }
        let outcome = match self.aggregate(callee) {
            _ if ringing.is_empty() => Some(EndReason::Unavailable),
            proto::ws::Presence::Dnd => Some(EndReason::Unavailable),
            proto::ws::Presence::Busy => Some(EndReason::Busy),
            _ => None,
        };
        if let Some(reason) = outcome {
            for dev in &ringing {
                self.drop_proxy_if_idle(*dev);
            }
            refuse(self, reason);
            self.out.push_back(Output::CallFinished(CallRecord {
                call_id,
                caller,
                callee,
                media,
                answered: false,
                reason,
                ring: std::time::Duration::ZERO,
                talk: std::time::Duration::ZERO,
            }));
            return;
        }
        self.totals.calls_started += 1;
        self.calls.insert(
            call_id,
            crate::calls::Call {
                caller,
                caller_dev: dev,
                callee,
                media,
                state: CallState::Ringing(ringing.clone(), Held::default()),
                started: now,
                answered: None,
            },
        );
        if let Some(d) = self.devices.get_mut(&dev) {
            d.call = Some(call_id);
        }
        self.push(dev, |seq| ServerMessage::CallRinging { seq, id, call_id, callee, media });
        for r in ringing {
            self.push(r, |seq| ServerMessage::CallIncoming { seq, call_id, caller, media });
        }
        self.schedule(now + self.cfg.ring_timeout, Timer::Ring(call_id));
        self.refresh_presence(caller);
    }

    pub(crate) fn call_accept(&mut self, dev: DeviceId, id: Option<u64>, call_id: CallId, now: Instant) {
        let Some(call) = self.calls.get(&call_id) else { return self.error_to(dev, id, WsErrorCode::NoSuchCall) };
        let ringing = match &call.state {
            CallState::Ringing(devs, _) if devs.contains(&dev) => devs.clone(),
            CallState::Active(_) if self.dev_user(dev) == Some(call.callee) => {
                return self.error_to(dev, id, WsErrorCode::InvalidState)
            }
            _ => return self.error_to(dev, id, WsErrorCode::NoSuchCall),
        };
        if self.devices.get(&dev).is_some_and(|d| d.call.is_some()) {
            return self.error_to(dev, id, WsErrorCode::AlreadyInCall);
        }
        let (caller, caller_dev, callee) = (call.caller, call.caller_dev, call.callee);
        let mut held = Vec::new();
        if let Some(c) = self.calls.get_mut(&call_id) {
            if let CallState::Ringing(_, h) = std::mem::replace(&mut c.state, CallState::Active(dev)) {
                held = h.signals;
            }
            c.answered = Some(now);
        }
        if let Some(d) = self.devices.get_mut(&dev) {
            d.call = Some(call_id);
        }
        self.ok_to(dev, id);
        for data in held {
            self.push(dev, |seq| ServerMessage::CallSignal { seq, call_id, data });
        }
        self.push(caller_dev, |seq| ServerMessage::CallAccepted { seq, call_id });
        for other in ringing.into_iter().filter(|d| *d != dev) {
            self.push(other, |seq| ServerMessage::CallEnded {
                seq,
                id: None,
                call_id,
                reason: proto::ws::EndReason::AnsweredElsewhere,
            });
            self.drop_proxy_if_idle(other);
        }
        self.refresh_presence(callee);
        self.refresh_presence(caller);
    }

    pub(crate) fn call_decline(&mut self, dev: DeviceId, id: Option<u64>, call_id: CallId, now: Instant) {
        match self.calls.get(&call_id) {
            Some(c) if matches!(&c.state, CallState::Ringing(devs, _) if devs.contains(&dev)) => {
                self.ok_to(dev, id);
                self.end_call(call_id, EndReason::Declined, Some(dev), now);
            }
            Some(c) if c.participant(dev) => self.error_to(dev, id, WsErrorCode::InvalidState),
            _ => self.error_to(dev, id, WsErrorCode::NoSuchCall),
        }
    }

    /// Ends a call on a participant's request. `why` (a media path that failed) counts only
    /// for an established call: while it rings there is no media path to fail.
    pub(crate) fn call_hangup(
        &mut self,
        dev: DeviceId,
        id: Option<u64>,
        call_id: CallId,
        why: Option<HangupReason>,
        now: Instant,
    ) {
        let Some(c) = self.calls.get(&call_id) else { return self.error_to(dev, id, WsErrorCode::NoSuchCall) };
        let reason = match &c.state {
            _ if !c.participant(dev) => return self.error_to(dev, id, WsErrorCode::NoSuchCall),
            CallState::Ringing(..) if dev == c.caller_dev => EndReason::Cancelled,
            CallState::Ringing(..) => EndReason::Declined,
            CallState::Active(_) => why.map_or(EndReason::Hangup, EndReason::from),
        };
        self.ok_to(dev, id);
        self.end_call(call_id, reason, Some(dev), now);
    }

    pub(crate) fn call_signal(&mut self, dev: DeviceId, id: Option<u64>, call_id: CallId, data: serde_json::Value) {
        let Some(c) = self.calls.get(&call_id) else { return self.error_to(dev, id, WsErrorCode::NoSuchCall) };
        // `None`: the caller, still ringing — keep it for the device that answers.
        let peer = match c.state {
            _ if !c.participant(dev) => return self.error_to(dev, id, WsErrorCode::NoSuchCall),
            CallState::Active(callee_dev) if dev == c.caller_dev => Some(callee_dev),
            CallState::Active(callee_dev) if dev == callee_dev => Some(c.caller_dev),
            CallState::Ringing(..) if dev == c.caller_dev => None,
            _ => return self.error_to(dev, id, WsErrorCode::InvalidState),
        };
        let Some(len) = serde_json::to_string(&data).ok().map(|s| s.len()).filter(|l| *l <= MAX_SIGNAL_BYTES) else {
            return self.error_to(dev, id, WsErrorCode::TooLarge);
        };
        match peer {
            Some(peer) => self.push(peer, |seq| ServerMessage::CallSignal { seq, call_id, data }),
            None => {
                let kept = match self.calls.get_mut(&call_id).map(|c| &mut c.state) {
                    Some(CallState::Ringing(_, held)) => held.keep(data, len),
                    _ => false,
                };
                if !kept {
                    return self.error_to(dev, id, WsErrorCode::TooLarge);
                }
            }
        }
        self.ok_to(dev, id);
    }

    pub(crate) fn ring_timeout(&mut self, call_id: CallId, now: Instant) {
        let due = self.calls.get(&call_id).is_some_and(|c| {
            matches!(c.state, CallState::Ringing(..))
                && now.saturating_duration_since(c.started) >= self.cfg.ring_timeout
        });
        if due {
            self.end_call(call_id, EndReason::NoAnswer, None, now);
        }
    }

    /// A device is going away: hang up its call, stop it ringing.
    pub(crate) fn device_leaves_calls(&mut self, dev: DeviceId, now: Instant) {
        let involved: Vec<CallId> = self.calls.iter().filter(|(_, c)| c.participant(dev)).map(|(id, _)| *id).collect();
        for call_id in involved {
            let Some(c) = self.calls.get_mut(&call_id) else { continue };
            match &mut c.state {
                CallState::Ringing(devs, _) if c.caller_dev != dev => {
                    devs.retain(|d| *d != dev);
                    if devs.is_empty() {
                        self.end_call(call_id, EndReason::Unavailable, Some(dev), now);
                    }
                }
                _ => self.end_call(call_id, EndReason::ConnectionLost, Some(dev), now),
            }
        }
    }

    /// Ends a call: tells every other device in it why, frees the devices, records it.
    pub(crate) fn end_call(&mut self, call_id: CallId, reason: EndReason, origin: Option<DeviceId>, now: Instant) {
        let Some(c) = self.calls.remove(&call_id) else { return };
        let mut notify = vec![c.caller_dev];
        match &c.state {
            CallState::Ringing(devs, _) => notify.extend(devs.iter().copied()),
            CallState::Active(d) => notify.push(*d),
        }
        for dev in notify {
            if let Some(d) = self.devices.get_mut(&dev) {
                if d.call == Some(call_id) {
                    d.call = None;
                }
            }
            if Some(dev) != origin {
                self.push(dev, |seq| ServerMessage::CallEnded { seq, id: None, call_id, reason });
            }
            self.drop_proxy_if_idle(dev);
        }
        let answered_at = c.answered;
        self.out.push_back(Output::CallFinished(CallRecord {
            call_id,
            caller: c.caller,
            callee: c.callee,
            media: c.media,
            answered: answered_at.is_some(),
            reason,
            ring: answered_at.unwrap_or(now).saturating_duration_since(c.started),
            talk: answered_at.map(|a| now.saturating_duration_since(a)).unwrap_or_default(),
        }));
        self.refresh_presence(c.caller);
        self.refresh_presence(c.callee);
    }
}
