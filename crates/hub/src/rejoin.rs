//! Calls that outlive a restart of the server.
//!
//! Media of a 1:1 call flows peer to peer, so it keeps going while the server restarts; only
//! the server's memory of the call is gone. When both devices reconnect they each claim the
//! call (`call_rejoin`: call id, peer, own role, media). The call is re-established only
//! when the two claims agree — same call id, each naming the other, opposite roles, same
//! media — and the two users may still call each other: nothing one side says alone makes
//! a call (a user cannot pull someone into a call, or take over another pair's call). A
//! claim nobody matches within [`REJOIN_WINDOW_SECS`] ends with `call_ended`
//! (`connection_lost`) for the device that made it.
//!
//! Only call ids from before this run can be claimed ([`crate::HubConfig::first_call_id`]
//! is above every id an earlier run handed out): a call of this run that ended stays ended.
//! In a cluster, ids of other nodes' calls can be claimed too, and a call of this run whose
//! other side's node died (`remote_calls.rs`, `node_calls_gone`).

use std::time::{Duration, Instant};

use proto::ws::{CallId, CallRole, EndReason, Media, ServerMessage, UserId, WsErrorCode, REJOIN_WINDOW_SECS};

use crate::calls::{Call, CallState};
use crate::core::{Hub, Timer};
use crate::io::{DeviceId, NodeMsg, Output};

/// One device's claim, waiting for the other side's.
#[derive(Debug, Clone)]
pub(crate) struct PendingRejoin {
    pub dev: DeviceId,
    pub peer: UserId,
    pub role: CallRole,
    pub media: Media,
    pub expires: Instant,
}

impl Hub {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call_rejoin(
        &mut self,
        dev: DeviceId,
        id: Option<u64>,
        call_id: CallId,
        peer: UserId,
        role: CallRole,
        media: Media,
        now: Instant,
    ) {
        let Some(me) = self.devices.get(&dev).map(|d| d.user) else { return };
        if self.devices.get(&dev).is_some_and(|d| d.call.is_some()) {
            return self.error_to(dev, id, WsErrorCode::AlreadyInCall);
        }
        // This run's calls (not one whose other side's node died) cannot be claimed. In a
        // cluster, ids above them are other nodes' calls, claimable once their holder is gone.
        let this_run = call_id >= self.cfg.first_call_id && (!self.clustered || call_id < self.next_call);
        if (this_run && !self.reclaimable.contains(&call_id)) || self.calls.contains_key(&call_id) {
            return self.error_to(dev, id, WsErrorCode::NoSuchCall);
        }
        if peer == me || !self.may_call(me, peer) {
            return self.error_to(dev, id, WsErrorCode::NotAllowed);
        }
        // The other side's matching claim, from a device that is still here and free.
        let matching = self.rejoins.get(&(call_id, peer)).filter(|p| {
            p.peer == me
                && p.role != role
                && p.media == media
                && self.devices.get(&p.dev).is_some_and(|d| d.call.is_none() && d.user == peer)
        });
        let Some(other) = matching.map(|p| p.dev) else {
            let expires = now + Duration::from_secs(REJOIN_WINDOW_SECS);
            self.rejoins.insert((call_id, me), PendingRejoin { dev, peer, role, media, expires });
            self.schedule(expires, Timer::Rejoin(call_id, me));
            self.ok_to(dev, id);
            // The other side may have come back to another node of a cluster: tell those
            // nodes, where a matching claim meets this one.
            let mut nodes: Vec<String> = self.remote.devices(peer).into_iter().map(|(n, _)| n).collect();
            nodes.dedup();
            for node in nodes {
                let msg = NodeMsg::Rejoin { device: dev, user: me, call_id, peer, role, media };
                self.out.push_back(Output::ToNode { node, msg });
            }
            return;
        };
        self.rejoins.remove(&(call_id, peer));
        self.rejoins.remove(&(call_id, me));
        self.reclaimable.remove(&call_id);
        // Another node's id: this node's own ids continue above it, never to meet it.
        self.next_call = self.next_call.max(call_id + 1);
        let (caller, caller_dev, callee, callee_dev) = match role {
            CallRole::Caller => (me, dev, peer, other),
            CallRole::Callee => (peer, other, me, dev),
        };
        self.calls.insert(
            call_id,
            Call {
                caller,
                caller_dev,
                callee,
                media,
                state: CallState::Active(callee_dev),
                started: now,
                answered: Some(now),
            },
        );
        for d in [dev, other] {
            if let Some(device) = self.devices.get_mut(&d) {
                device.call = Some(call_id);
            }
        }
        self.push(other, |seq| ServerMessage::CallRejoined { seq, id: None, call_id });
        self.push(dev, |seq| ServerMessage::CallRejoined { seq, id, call_id });
        self.refresh_presence(me);
        self.refresh_presence(peer);
    }

    /// A claim made on another node (`NodeMsg::Rejoin`) whose other side claimed here. The
    /// call is re-established on the node of the caller's claim, so two nodes hearing each
    /// other's claims at once never both make it: here if the local claim is the caller's
    /// (the other side takes part as a proxy); otherwise the local claim goes to that node.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn remote_claim(
        &mut self,
        node: &str,
        device: DeviceId,
        user: UserId,
        call_id: CallId,
        peer: UserId,
        role: CallRole,
        media: Media,
        now: Instant,
    ) {
        let Some(local) = self.rejoins.get(&(call_id, peer)).cloned() else { return };
        let free =
            self.devices.get(&local.dev).is_some_and(|d| d.call.is_none() && d.user == peer && d.remote.is_none());
        if local.peer != user || local.role == role || local.media != media || !free || !self.may_call(peer, user) {
            return;
        }
        if local.role == CallRole::Callee {
            let msg = NodeMsg::Rejoin { device: local.dev, user: peer, call_id, peer: user, role: local.role, media };
            self.out.push_back(Output::ToNode { node: node.to_owned(), msg });
            return;
        }
        let proxy = self.proxy(node, device, user);
        if self.calls.contains_key(&call_id) || self.devices.get(&proxy).is_some_and(|d| d.call.is_some()) {
            return;
        }
        self.rejoins.remove(&(call_id, peer));
        self.reclaimable.remove(&call_id);
        self.next_call = self.next_call.max(call_id + 1);
        self.calls.insert(
            call_id,
            Call {
                caller: peer,
                caller_dev: local.dev,
                callee: user,
                media,
                state: CallState::Active(proxy),
                started: now,
                answered: Some(now),
            },
        );
        for d in [local.dev, proxy] {
            if let Some(device) = self.devices.get_mut(&d) {
                device.call = Some(call_id);
            }
        }
        self.push(proxy, |seq| ServerMessage::CallRejoined { seq, id: None, call_id });
        self.push(local.dev, |seq| ServerMessage::CallRejoined { seq, id: None, call_id });
        self.refresh_presence(peer);
    }

    /// The node of the caller's claim re-established a call with a local device's claim
    /// (`remote_claim`): the call is held there now.
    pub(crate) fn claim_met_elsewhere(&mut self, node: &str, dev: DeviceId, call_id: CallId) {
        let Some(user) = self.devices.get(&dev).map(|d| d.user) else { return };
        let Some(p) = self.rejoins.get(&(call_id, user)).filter(|p| p.dev == dev).cloned() else { return };
        self.rejoins.remove(&(call_id, user));
        self.reclaimable.remove(&call_id);
        let caller = if p.role == CallRole::Callee { p.peer } else { user };
        self.remote_calls.insert(
            call_id,
            crate::remote_calls::RemoteCall { node: node.to_owned(), devices: vec![dev], caller, media: p.media },
        );
        if let Some(d) = self.devices.get_mut(&dev) {
            d.call = Some(call_id);
        }
        self.refresh_presence(user);
    }

    /// A claim's window ended without the other side's.
    pub(crate) fn rejoin_timeout(&mut self, call_id: CallId, user: UserId, now: Instant) {
        let due = self.rejoins.get(&(call_id, user)).is_some_and(|p| p.expires <= now);
        if !due {
            return;
        }
        if let Some(p) = self.rejoins.remove(&(call_id, user)) {
            if !self.rejoins.keys().any(|(c, _)| *c == call_id) {
                self.reclaimable.remove(&call_id);
            }
            if self.devices.contains_key(&p.dev) {
                self.push(p.dev, |seq| ServerMessage::CallEnded {
                    seq,
                    id: None,
                    call_id,
                    reason: EndReason::ConnectionLost,
                });
            }
        }
    }

    /// A device that goes away takes its claims with it.
    pub(crate) fn device_leaves_rejoins(&mut self, dev: DeviceId) {
        self.rejoins.retain(|_, p| p.dev != dev);
    }
}
