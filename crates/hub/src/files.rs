//! Person-to-person file transfers: the offer, who takes it, and the relay of negotiation
//! between the two devices. The bytes never pass through the server: they go over a
//! WebRTC DataChannel between the browsers (through TURN when there is no direct path).
//!
//! ```text
//!  file_offer ──► Offered(receiver devices) ──accept on one──► Accepted(receiver device)
//!                   │ decline / cancel / expiry /                │ file_end (completed,
//!                   ▼ last offered device gone                   ▼ failed, cancelled), device lost
//!                 ended                                         ended
//! ```
//! Like a call, an offer reaches every device of the receiver and is taken on one. Unlike
//! a call it does not make anyone busy, and a device may have several open at once
//! (up to [`MAX_TRANSFERS_PER_DEVICE`]).

use std::time::Instant;

use proto::ws::{
    FileEndClaim, FileEndReason, ServerMessage, TransferId, UserId, WsErrorCode, MAX_FILE_MIME_BYTES,
    MAX_FILE_NAME_BYTES, MAX_FILE_SIZE, MAX_SIGNAL_BYTES, MAX_TRANSFERS_PER_DEVICE,
};

use crate::core::{Hub, Timer};
use crate::io::DeviceId;

#[derive(Debug, Clone)]
pub(crate) enum TransferState {
    /// The receiver's devices that were told, none has answered yet.
    Offered(Vec<DeviceId>),
    /// The receiver's device that took it.
    Accepted(DeviceId),
    /// The receiving device went away (a page reload ends its device); another device of the
    /// receiver may take the transfer over until the grace period ends. The sender waits.
    Detached { since: Instant },
}

#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    pub sender_dev: DeviceId,
    pub receiver: UserId,
    pub state: TransferState,
    pub offered_at: Instant,
}

impl Transfer {
    pub(crate) fn involves(&self, dev: DeviceId) -> bool {
        dev == self.sender_dev
            || match &self.state {
                TransferState::Offered(devs) => devs.contains(&dev),
                TransferState::Accepted(d) => *d == dev,
                TransferState::Detached { .. } => false,
            }
    }

    /// The other device of an accepted transfer.
    fn peer_of(&self, dev: DeviceId) -> Option<DeviceId> {
        match self.state {
            TransferState::Accepted(r) if dev == self.sender_dev => Some(r),
            TransferState::Accepted(r) if dev == r => Some(self.sender_dev),
            _ => None,
        }
    }
}

/// What a `file_offer` carries.
pub(crate) struct Offer {
    pub to: UserId,
    pub name: String,
    pub size: u64,
    pub mime: String,
}

impl Hub {
    fn transfers_of(&self, dev: DeviceId) -> usize {
        self.transfers.values().filter(|t| t.involves(dev)).count()
    }

    pub(crate) fn file_offer(&mut self, dev: DeviceId, id: Option<u64>, offer: Offer, now: Instant) {
        let Some(sender) = self.devices.get(&dev).map(|d| d.user) else { return };
        if offer.name.is_empty() || offer.name.len() > MAX_FILE_NAME_BYTES || offer.mime.len() > MAX_FILE_MIME_BYTES {
            return self.error_to(dev, id, WsErrorCode::TooLarge);
        }
        if offer.size > MAX_FILE_SIZE {
            return self.error_to(dev, id, WsErrorCode::TooLarge);
        }
        if self.transfers_of(dev) >= MAX_TRANSFERS_PER_DEVICE {
            return self.error_to(dev, id, WsErrorCode::RateLimited);
        }
        let transfer_id = self.next_transfer;
        self.next_transfer += 1;
        let refuse = |hub: &mut Hub, reason: FileEndReason| {
            hub.push(dev, |seq| ServerMessage::FileEnded { seq, id, transfer_id, reason });
        };
        if offer.to == sender || !self.may_call(sender, offer.to) {
            return refuse(self, FileEndReason::NotAllowed);
        }
        let mut offered: Vec<DeviceId> = self.users.get(&offer.to).map(|u| u.devices.clone()).unwrap_or_default();
        // The receiver's devices on other nodes too, through proxies (`remote_calls.rs`).
        for (node, rdev) in self.remote.devices(offer.to) {
            offered.push(self.proxy(&node, rdev, offer.to));
        }
        if offered.is_empty() {
            return refuse(self, FileEndReason::Unavailable);
        }
        self.transfers.insert(
            transfer_id,
            Transfer {
                sender_dev: dev,
                receiver: offer.to,
                state: TransferState::Offered(offered.clone()),
                offered_at: now,
            },
        );
        self.push(dev, |seq| ServerMessage::FileOffered { seq, id, transfer_id, to: offer.to });
        for r in offered {
            let (name, mime) = (offer.name.clone(), offer.mime.clone());
            self.push(r, |seq| ServerMessage::FileIncoming {
                seq,
                transfer_id,
                from: sender,
                name,
                size: offer.size,
                mime,
            });
        }
        self.schedule(now + self.cfg.file_offer_timeout, Timer::FileOffer(transfer_id));
    }

    pub(crate) fn file_accept(&mut self, dev: DeviceId, id: Option<u64>, transfer_id: TransferId) {
        let Some(t) = self.transfers.get_mut(&transfer_id) else {
            return self.error_to(dev, id, WsErrorCode::NoSuchTransfer);
        };
        let others = match &t.state {
            TransferState::Offered(devs) if devs.contains(&dev) => devs.clone(),
            TransferState::Accepted(_) if t.involves(dev) => return self.error_to(dev, id, WsErrorCode::InvalidState),
            _ => return self.error_to(dev, id, WsErrorCode::NoSuchTransfer),
        };
        t.state = TransferState::Accepted(dev);
        let sender_dev = t.sender_dev;
        self.ok_to(dev, id);
        self.push(sender_dev, |seq| ServerMessage::FileAccepted { seq, transfer_id });
        for other in others.into_iter().filter(|d| *d != dev) {
            self.push(other, |seq| ServerMessage::FileEnded {
                seq,
                id: None,
                transfer_id,
                reason: FileEndReason::TakenElsewhere,
            });
        }
    }

    pub(crate) fn file_decline(&mut self, dev: DeviceId, id: Option<u64>, transfer_id: TransferId) {
        match self.transfers.get(&transfer_id) {
            Some(t) if matches!(&t.state, TransferState::Offered(devs) if devs.contains(&dev)) => {
                self.ok_to(dev, id);
                self.end_transfer(transfer_id, FileEndReason::Declined, Some(dev));
            }
            Some(t) if t.involves(dev) => self.error_to(dev, id, WsErrorCode::InvalidState),
            _ => self.error_to(dev, id, WsErrorCode::NoSuchTransfer),
        }
    }

    /// A device ends a transfer it is part of. While it is only offered, the sender may
    /// cancel and a receiver device declines; outcomes (`completed`, `failed`) only count
    /// once accepted.
    pub(crate) fn file_end(&mut self, dev: DeviceId, id: Option<u64>, transfer_id: TransferId, claim: FileEndClaim) {
        let Some(t) = self.transfers.get(&transfer_id) else {
            return self.error_to(dev, id, WsErrorCode::NoSuchTransfer);
        };
        let reason = match (&t.state, claim) {
            _ if !t.involves(dev) => return self.error_to(dev, id, WsErrorCode::NoSuchTransfer),
            (TransferState::Offered(_), _) if dev != t.sender_dev => FileEndReason::Declined,
            (TransferState::Offered(_), FileEndClaim::Cancelled) => FileEndReason::Cancelled,
            (TransferState::Offered(_), _) => return self.error_to(dev, id, WsErrorCode::InvalidState),
            (TransferState::Accepted(_), claim) => claim.into(),
            // Only the sender is left in it, waiting: it may give up.
            (TransferState::Detached { .. }, FileEndClaim::Cancelled) => FileEndReason::Cancelled,
            (TransferState::Detached { .. }, _) => return self.error_to(dev, id, WsErrorCode::InvalidState),
        };
        self.ok_to(dev, id);
        self.end_transfer(transfer_id, reason, Some(dev));
    }

    pub(crate) fn file_signal(
        &mut self,
        dev: DeviceId,
        id: Option<u64>,
        transfer_id: TransferId,
        data: serde_json::Value,
    ) {
        let Some(t) = self.transfers.get(&transfer_id) else {
            return self.error_to(dev, id, WsErrorCode::NoSuchTransfer);
        };
        let peer = match t.peer_of(dev) {
            Some(p) => p,
            None if t.involves(dev) => return self.error_to(dev, id, WsErrorCode::InvalidState),
            None => return self.error_to(dev, id, WsErrorCode::NoSuchTransfer),
        };
        if serde_json::to_string(&data).map_or(true, |s| s.len() > MAX_SIGNAL_BYTES) {
            return self.error_to(dev, id, WsErrorCode::TooLarge);
        }
        self.push(peer, |seq| ServerMessage::FileSignal { seq, transfer_id, data });
        self.ok_to(dev, id);
    }

    /// Another device of the receiver takes over a transfer whose receiving device went away.
    pub(crate) fn file_resume(&mut self, dev: DeviceId, id: Option<u64>, transfer_id: TransferId) {
        let user = self.devices.get(&dev).map(|d| d.user);
        match self.transfers.get_mut(&transfer_id) {
            Some(t) if Some(t.receiver) == user && matches!(t.state, TransferState::Detached { .. }) => {
                t.state = TransferState::Accepted(dev);
                self.ok_to(dev, id);
            }
            Some(t) if Some(t.receiver) == user && t.involves(dev) => self.error_to(dev, id, WsErrorCode::InvalidState),
            _ => self.error_to(dev, id, WsErrorCode::NoSuchTransfer),
        }
    }

    pub(crate) fn file_resume_timeout(&mut self, transfer_id: TransferId, now: Instant) {
        let grace = self.cfg.file_resume_grace;
        let due = self.transfers.get(&transfer_id).is_some_and(
            |t| matches!(t.state, TransferState::Detached { since } if now.saturating_duration_since(since) >= grace),
        );
        if due {
            self.end_transfer(transfer_id, FileEndReason::ConnectionLost, None);
        }
    }

    pub(crate) fn file_offer_timeout(&mut self, transfer_id: TransferId, now: Instant) {
        let due = self.transfers.get(&transfer_id).is_some_and(|t| {
            matches!(t.state, TransferState::Offered(_))
                && now.saturating_duration_since(t.offered_at) >= self.cfg.file_offer_timeout
        });
        if due {
            self.end_transfer(transfer_id, FileEndReason::Expired, None);
        }
    }

    /// A device is going away: its transfers end (a receiving device's wait for another
    /// device of the receiver to take them over), its offers stop showing on it.
    pub(crate) fn device_leaves_transfers(&mut self, dev: DeviceId, now: Instant) {
        let involved: Vec<TransferId> =
            self.transfers.iter().filter(|(_, t)| t.involves(dev)).map(|(id, _)| *id).collect();
        let grace = self.cfg.file_resume_grace;
        for transfer_id in involved {
            let Some(t) = self.transfers.get_mut(&transfer_id) else { continue };
            match &mut t.state {
                TransferState::Offered(devs) if t.sender_dev != dev => {
                    devs.retain(|d| *d != dev);
                    if devs.is_empty() {
                        self.end_transfer(transfer_id, FileEndReason::Unavailable, Some(dev));
                    }
                }
                TransferState::Accepted(d) if *d == dev && t.sender_dev != dev => {
                    t.state = TransferState::Detached { since: now };
                    self.schedule(now + grace, Timer::FileResume(transfer_id));
                }
                _ => self.end_transfer(transfer_id, FileEndReason::ConnectionLost, Some(dev)),
            }
        }
    }

    /// Ends a transfer and tells every other device in it why.
    pub(crate) fn end_transfer(&mut self, transfer_id: TransferId, reason: FileEndReason, origin: Option<DeviceId>) {
        let Some(t) = self.transfers.remove(&transfer_id) else { return };
        let mut notify = vec![t.sender_dev];
        match t.state {
            TransferState::Offered(devs) => notify.extend(devs),
            TransferState::Accepted(d) => notify.push(d),
            TransferState::Detached { .. } => {}
        }
        for dev in notify {
            if Some(dev) != origin {
                self.push(dev, |seq| ServerMessage::FileEnded { seq, id: None, transfer_id, reason });
            }
            self.drop_proxy_if_idle(dev);
        }
    }
}
