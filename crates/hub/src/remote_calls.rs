//! 1:1 calls between devices on different nodes of a cluster.
//!
//! A call lives in the hub of the caller's node (its owner), whose state machine (`calls.rs`)
//! rings, connects and ends it as on one node. The callee's devices on other nodes take part
//! through **proxies**: local device ids standing for (node, device there), learnt from the
//! nodes' presence lists. What the owner pushes to a proxy goes to that node
//! ([`NodeMsg::ToDevice`]), which numbers it for its device like its own events; what that
//! device sends about the call (accept, decline, hang up, signals) goes back
//! ([`NodeMsg::FromDevice`]) and is handled as the proxy's own request; a device that goes
//! away there is reported ([`NodeMsg::DeviceGone`]) and leaves the call as a local one would.
//!
//! On the callee's node, `remote_calls` remembers which of its devices take part in which
//! call held elsewhere, and where: to forward their requests, and to mark a device that
//! answered as in a call (busy, one call at a time) until the owner ends it.

use std::collections::VecDeque;
use std::time::Instant;

use proto::ws::{CallId, ClientMessage, ClientPresence, ServerMessage, UserId};

use crate::core::{Device, Hub};
use crate::io::{DeviceId, NodeMsg, Output};

/// A call another node holds that devices of this node take part in.
#[derive(Debug, Clone)]
pub(crate) struct RemoteCall {
    pub node: String,
    /// This node's devices in it (ringing, or the one that answered).
    pub devices: Vec<DeviceId>,
    /// What a device that answered claims when the holder is gone (`node_calls_gone`).
    pub caller: UserId,
    pub media: proto::ws::Media,
}

impl Hub {
    /// The local id standing for device `rdev` of `node` (made on first use).
    pub(crate) fn proxy(&mut self, node: &str, rdev: DeviceId, user: UserId) -> DeviceId {
        if let Some(d) = self.proxies.get(&(node.to_owned(), rdev)) {
            return *d;
        }
        let dev = self.next_device;
        self.next_device += 1;
        self.devices.insert(
            dev,
            Device {
                user,
                session: 0,
                conn: None,
                token: String::new(),
                status: ClientPresence::Online,
                call: None,
                seq: 0,
                backlog: VecDeque::new(),
                grace_gen: 0,
                remote: Some((node.to_owned(), rdev)),
            },
        );
        self.proxies.insert((node.to_owned(), rdev), dev);
        dev
    }

    /// Forgets a proxy no call names any more.
    pub(crate) fn drop_proxy_if_idle(&mut self, dev: DeviceId) {
        let Some(remote) = self.devices.get(&dev).and_then(|d| d.remote.clone()) else { return };
        if self.room_proxies.contains(&dev)
            || self.calls.values().any(|c| c.participant(dev))
            || self.transfers.values().any(|t| t.involves(dev))
        {
            return;
        }
        self.devices.remove(&dev);
        self.proxies.remove(&remote);
    }

    /// Sends `msg` to the device a proxy stands for; false if `dev` is not a proxy.
    pub(crate) fn send_to_proxy(&mut self, dev: DeviceId, msg: ServerMessage) -> bool {
        let Some((node, device)) = self.devices.get(&dev).and_then(|d| d.remote.clone()) else { return false };
        self.out.push_back(Output::ToNode { node, msg: NodeMsg::ToDevice { device, msg } });
        true
    }

    pub(crate) fn node_message(&mut self, node: &str, msg: NodeMsg, now: Instant) {
        match msg {
            NodeMsg::ToDevice { device, msg } => self.deliver_from_owner(node, device, msg),
            NodeMsg::FromDevice { device, msg: ClientMessage::FileResume { id, transfer_id } }
                if !self.proxies.contains_key(&(node.to_owned(), device)) =>
            {
                // A new device of the receiver on that node (that node checked whose it is).
                let Some(receiver) = self.transfers.get(&transfer_id).map(|t| t.receiver) else { return };
                let proxy = self.proxy(node, device, receiver);
                self.file_resume(proxy, id, transfer_id);
                self.drop_proxy_if_idle(proxy);
            }
            NodeMsg::FromDevice { device, msg } => {
                let Some(&proxy) = self.proxies.get(&(node.to_owned(), device)) else { return };
                match msg {
                    ClientMessage::CallAccept { id, call_id } => self.call_accept(proxy, id, call_id, now),
                    ClientMessage::CallDecline { id, call_id } => self.call_decline(proxy, id, call_id, now),
                    ClientMessage::CallHangup { id, call_id, reason } => {
                        self.call_hangup(proxy, id, call_id, reason, now)
                    }
                    ClientMessage::CallSignal { id, call_id, data } => self.call_signal(proxy, id, call_id, data),
                    ClientMessage::FileAccept { id, transfer_id } => self.file_accept(proxy, id, transfer_id),
                    ClientMessage::FileDecline { id, transfer_id } => self.file_decline(proxy, id, transfer_id),
                    ClientMessage::FileSignal { id, transfer_id, data } => {
                        self.file_signal(proxy, id, transfer_id, data)
                    }
                    ClientMessage::FileResume { id, transfer_id } => self.file_resume(proxy, id, transfer_id),
                    ClientMessage::FileEnd { id, transfer_id, reason } => self.file_end(proxy, id, transfer_id, reason),
                    _ => {}
                }
                self.drop_proxy_if_idle(proxy);
            }
            NodeMsg::DeviceGone { device } => {
                let Some(&proxy) = self.proxies.get(&(node.to_owned(), device)) else { return };
                self.device_leaves_calls(proxy, now);
                self.device_leaves_transfers(proxy, now);
                self.room_proxy_gone(proxy);
                self.drop_proxy_if_idle(proxy);
            }
            NodeMsg::Room { device, user, id, op } => self.room_request_from_node(node, device, user, id, op),
            NodeMsg::Rejoin { device, user, call_id, peer, role, media } => {
                self.remote_claim(node, device, user, call_id, peer, role, media, now)
            }
        }
    }

    /// An event of a call `node` holds, for one of this node's devices.
    fn deliver_from_owner(&mut self, node: &str, device: DeviceId, msg: ServerMessage) {
        let Some(d) = self.devices.get_mut(&device) else { return };
        if d.remote.is_some() {
            return;
        }
        let user = d.user;
        match &msg {
            ServerMessage::CallIncoming { call_id, caller, media, .. } => {
                let entry = self.remote_calls.entry(*call_id).or_insert_with(|| RemoteCall {
                    node: node.to_owned(),
                    devices: Vec::new(),
                    caller: *caller,
                    media: *media,
                });
                if !entry.devices.contains(&device) {
                    entry.devices.push(device);
                }
            }
            ServerMessage::RoomRemoved { conv, .. } => self.remote_room_left(device, *conv),
            ServerMessage::CallRejoined { call_id, .. } => self.claim_met_elsewhere(node, device, *call_id),
            ServerMessage::FileIncoming { transfer_id, .. } => {
                let entry = self.remote_transfers.entry(*transfer_id).or_insert_with(|| (node.to_owned(), Vec::new()));
                if !entry.1.contains(&device) {
                    entry.1.push(device);
                }
            }
            ServerMessage::FileEnded { transfer_id, .. } => self.forget_remote_transfer(*transfer_id, device),
            ServerMessage::CallEnded { call_id, .. } => {
                let call_id = *call_id;
                let was_in = d.call == Some(call_id);
                if was_in {
                    d.call = None;
                }
                self.forget_remote_call(call_id, device);
                if was_in {
                    self.refresh_presence(user);
                }
            }
            _ => {}
        }
        match msg {
            // Replies are not numbered: they go to the device's connection as they are.
            m @ (ServerMessage::Ok { .. } | ServerMessage::Error { .. }) => {
                if let Some(conn) = self.device_conn(device) {
                    self.reply(conn, m);
                }
            }
            m => self.push(device, |seq| renumber(m, seq)),
        }
    }

    fn forget_remote_call(&mut self, call_id: CallId, device: DeviceId) {
        if let Some(rc) = self.remote_calls.get_mut(&call_id) {
            rc.devices.retain(|d| *d != device);
            if rc.devices.is_empty() {
                self.remote_calls.remove(&call_id);
            }
        }
    }

    fn forget_remote_transfer(&mut self, transfer_id: proto::ws::TransferId, device: DeviceId) {
        if let Some((_, devs)) = self.remote_transfers.get_mut(&transfer_id) {
            devs.retain(|d| *d != device);
            if devs.is_empty() {
                self.remote_transfers.remove(&transfer_id);
            }
        }
    }

    /// A local device's request about a file transfer another node holds (the sender's)
    /// goes there; false if it is not about such a transfer.
    pub(crate) fn forward_transfer_request(&mut self, dev: DeviceId, msg: &ClientMessage) -> bool {
        let transfer_id = match msg {
            ClientMessage::FileAccept { transfer_id, .. }
            | ClientMessage::FileDecline { transfer_id, .. }
            | ClientMessage::FileSignal { transfer_id, .. }
            | ClientMessage::FileResume { transfer_id, .. }
            | ClientMessage::FileEnd { transfer_id, .. } => *transfer_id,
            _ => return false,
        };
        if self.transfers.contains_key(&transfer_id) {
            return false;
        }
        let user = self.devices.get(&dev).map(|d| d.user);
        let resumable = self.resumable.get(&transfer_id).filter(|(_, u, _)| Some(*u) == user);
        if let (ClientMessage::FileResume { .. }, Some((node, _, _))) = (msg, resumable) {
            // A new device of the receiver (checked here: the holder's proxy for it is the
            // receiver's) takes over a transfer another node holds.
            let node = node.clone();
            self.resumable.remove(&transfer_id);
            self.remote_transfers.entry(transfer_id).or_insert_with(|| (node, Vec::new())).1.push(dev);
        }
        let Some((node, devs)) = self.remote_transfers.get(&transfer_id) else { return false };
        if !devs.contains(&dev) {
            return false;
        }
        let node = node.clone();
        if matches!(msg, ClientMessage::FileDecline { .. } | ClientMessage::FileEnd { .. }) {
            self.forget_remote_transfer(transfer_id, dev);
        }
        self.out.push_back(Output::ToNode { node, msg: NodeMsg::FromDevice { device: dev, msg: msg.clone() } });
        true
    }

    /// A local device's request about a call another node holds goes there; false if the
    /// request is not about such a call (the local state machine answers it).
    pub(crate) fn forward_call_request(&mut self, dev: DeviceId, msg: &ClientMessage) -> bool {
        let call_id = match msg {
            ClientMessage::CallAccept { call_id, .. }
            | ClientMessage::CallDecline { call_id, .. }
            | ClientMessage::CallHangup { call_id, .. }
            | ClientMessage::CallSignal { call_id, .. } => *call_id,
            _ => return false,
        };
        if self.calls.contains_key(&call_id) {
            return false;
        }
        let Some(rc) = self.remote_calls.get(&call_id) else { return false };
        if !rc.devices.contains(&dev) {
            return false;
        }
        let node = rc.node.clone();
        if let ClientMessage::CallAccept { .. } = msg {
            // Busy from now on; the owner's `call_ended` frees it again if it lost the race.
            if let Some(d) = self.devices.get_mut(&dev) {
                if d.call.is_none() {
                    d.call = Some(call_id);
                    let user = d.user;
                    self.refresh_presence(user);
                }
            }
        }
        if matches!(msg, ClientMessage::CallDecline { .. } | ClientMessage::CallHangup { .. }) {
            let freed = self.devices.get_mut(&dev).filter(|d| d.call == Some(call_id)).map(|d| {
                d.call = None;
                d.user
            });
            self.forget_remote_call(call_id, dev);
            if let Some(user) = freed {
                self.refresh_presence(user);
            }
        }
        self.out.push_back(Output::ToNode { node, msg: NodeMsg::FromDevice { device: dev, msg: msg.clone() } });
        true
    }

    /// `node` fell silent. Media of an established 1:1 call flows peer to peer and goes on;
    /// only the holder's memory of the call is lost, as when a server restarts
    /// (`rejoin.rs`). So each call between this node's devices and that node's becomes a
    /// claim of this node's device, as if it had sent `call_rejoin`: when the other side
    /// reconnects (to this node) and claims it too, the call is re-established here; if it
    /// does not within the rejoin window, it ends (`connection_lost`). A call that still rang
    /// ends for the devices here (`connection_lost`).
    pub(crate) fn node_calls_gone(&mut self, node: &str, now: Instant) {
        use proto::ws::CallRole;
        // Calls the gone node held.
        let mut held: Vec<(CallId, RemoteCall)> =
            self.remote_calls.iter().filter(|(_, rc)| rc.node == node).map(|(id, rc)| (*id, rc.clone())).collect();
        held.sort_by_key(|(id, _)| *id);
        for (call_id, rc) in held {
            self.remote_calls.remove(&call_id);
            for dev in rc.devices {
                let Some(d) = self.devices.get_mut(&dev) else { continue };
                let user = d.user;
                if d.call == Some(call_id) {
                    d.call = None;
                    self.reclaimable.insert(call_id);
                    self.call_rejoin(dev, None, call_id, rc.caller, CallRole::Callee, rc.media, now);
                } else {
                    self.push(dev, |seq| ServerMessage::CallEnded {
                        seq,
                        id: None,
                        call_id,
                        reason: proto::ws::EndReason::ConnectionLost,
                    });
                }
                self.refresh_presence(user);
            }
        }
        // Calls held here with a device of the gone node.
        let of_node = |hub: &Hub, dev: DeviceId| {
            hub.devices.get(&dev).and_then(|d| d.remote.as_ref()).is_some_and(|(n, _)| n == node)
        };
        let mut answered: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| matches!(c.state, crate::calls::CallState::Active(d) if of_node(self, d)))
            .map(|(id, _)| *id)
            .collect();
        answered.sort_unstable();
        for call_id in answered {
            let Some(c) = self.calls.remove(&call_id) else { continue };
            if let crate::calls::CallState::Active(proxy) = c.state {
                self.drop_proxy_if_idle(proxy);
            }
            if let Some(d) = self.devices.get_mut(&c.caller_dev) {
                d.call = None;
            }
            self.reclaimable.insert(call_id);
            self.call_rejoin(c.caller_dev, None, call_id, c.callee, CallRole::Caller, c.media, now);
            self.refresh_presence(c.caller);
        }
        // Transfers the gone node held: over for the devices here (their data channel may
        // finish, but nothing can be told about it any more).
        let mut lost: Vec<(proto::ws::TransferId, Vec<DeviceId>)> = self
            .remote_transfers
            .iter()
            .filter(|(_, (n, _))| n == node)
            .map(|(id, (_, devs))| (*id, devs.clone()))
            .collect();
        lost.sort_unstable();
        for (transfer_id, devs) in lost {
            self.remote_transfers.remove(&transfer_id);
            for dev in devs {
                self.push(dev, |seq| ServerMessage::FileEnded {
                    seq,
                    id: None,
                    transfer_id,
                    reason: proto::ws::FileEndReason::ConnectionLost,
                });
            }
        }
        let mut proxies: Vec<DeviceId> = self.proxies.iter().filter(|((n, _), _)| n == node).map(|(_, d)| *d).collect();
        proxies.sort_unstable();
        for proxy in proxies {
            // Still ringing there: it stops ringing (the call ends if nothing else rings);
            // its transfers held here end, or wait for another device of the receiver.
            self.device_leaves_calls(proxy, now);
            self.device_leaves_transfers(proxy, now);
            self.drop_proxy_if_idle(proxy);
        }
    }

    /// A local device goes: the nodes holding calls it took part in are told.
    pub(crate) fn device_leaves_remote_calls(&mut self, dev: DeviceId, now: Instant) {
        let mut owners: Vec<String> = Vec::new();
        let involved: Vec<CallId> =
            self.remote_calls.iter().filter(|(_, rc)| rc.devices.contains(&dev)).map(|(id, _)| *id).collect();
        for call_id in involved {
            if let Some(rc) = self.remote_calls.get(&call_id) {
                if !owners.contains(&rc.node) {
                    owners.push(rc.node.clone());
                }
            }
            self.forget_remote_call(call_id, dev);
        }
        let transfers: Vec<proto::ws::TransferId> =
            self.remote_transfers.iter().filter(|(_, (_, devs))| devs.contains(&dev)).map(|(id, _)| *id).collect();
        // Offers forgotten after the resume grace (a later departure sweeps them).
        let grace = self.cfg.file_resume_grace;
        self.resumable.retain(|_, (_, _, until)| *until > now);
        for transfer_id in transfers {
            if let Some((node, _)) = self.remote_transfers.get(&transfer_id) {
                if !owners.contains(node) {
                    owners.push(node.clone());
                }
                // Another device of the receiver (a reloaded page) may take it over
                // (`file_resume`) within the grace: it must know where the transfer is.
                let user = self.devices.get(&dev).map_or(0, |d| d.user);
                self.resumable.insert(transfer_id, (node.clone(), user, now + grace));
            }
            self.forget_remote_transfer(transfer_id, dev);
        }
        for node in owners {
            self.out.push_back(Output::ToNode { node, msg: NodeMsg::DeviceGone { device: dev } });
        }
    }
}

/// The same event numbered for the receiving device (the owner's number meant nothing here).
fn renumber(msg: ServerMessage, seq: u64) -> ServerMessage {
    let Ok(mut v) = serde_json::to_value(&msg) else { return msg };
    if let Some(s) = v.get_mut("seq") {
        *s = seq.into();
    }
    serde_json::from_value(v).unwrap_or(msg)
}
