//! Conferences held by another node of a cluster.
//!
//! A conference runs on one node (the driver finds or places it: [`Input::RoomElsewhere`]).
//! A device connected elsewhere takes part as a proxy there, as in a 1:1 call
//! (`remote_calls.rs`): its node forwards its requests about the room
//! ([`NodeMsg::Room`]), the holder hands them to its conference server as the proxy's, and
//! what the conference pushes to the proxy goes back to the device's node, which numbers it.
//! Media goes straight from the browser to the holder's media port (its ICE candidates are in
//! the SDP), so only signaling crosses the bus.
//!
//! When the holder falls silent, its rooms are gone: the devices in them are told
//! `room_removed` (`media_lost`), and their clients join again, which places the room anew.

use proto::ws::{RoomLeaveReason, ServerMessage};

use crate::core::Hub;
use crate::io::{DeviceId, NodeMsg, Output, RoomOp, RoomRequest};

impl Hub {
    /// A local device's request about a room another node holds goes there; false if the
    /// driver decides (a join or a decline, placed anew each time) or the room is local.
    pub(crate) fn forward_room_request(&mut self, req: &RoomRequest) -> bool {
        if let RoomOp::Join { .. } = req.op {
            // Placed anew: until the driver says it is elsewhere, the device's requests are
            // this node's (a room it left elsewhere is no longer where they go).
            self.remote_rooms.remove(&req.device);
            return false;
        }
        if let RoomOp::Decline { .. } = req.op {
            return false;
        }
        let Some((node, conv)) = self.remote_rooms.get(&req.device) else { return false };
        if *conv != req.op.conv() {
            return false;
        }
        let msg = NodeMsg::Room { device: req.device, user: req.user, id: req.id, op: req.op.clone() };
        self.out.push_back(Output::ToNode { node: node.clone(), msg });
        true
    }

    /// The driver found the room of `req` on `node`: the request goes there, and after a
    /// join, the device's later requests about that room too.
    pub(crate) fn room_elsewhere(&mut self, node: String, req: RoomRequest) {
        if self.devices.get(&req.device).is_none_or(|d| d.remote.is_some()) {
            return;
        }
        if let RoomOp::Join { conv, .. } = req.op {
            self.remote_rooms.insert(req.device, (node.clone(), conv));
            let told = self.room_nodes_told.entry(req.device).or_default();
            if !told.contains(&node) {
                told.push(node.clone());
            }
        }
        let msg = NodeMsg::Room { device: req.device, user: req.user, id: req.id, op: req.op };
        self.out.push_back(Output::ToNode { node, msg });
    }

    /// Another node's device asks about a room this node holds: as its proxy's request.
    pub(crate) fn room_request_from_node(
        &mut self,
        node: &str,
        device: DeviceId,
        user: proto::ws::UserId,
        id: Option<u64>,
        op: RoomOp,
    ) {
        let proxy = self.proxy(node, device, user);
        if self.devices.get(&proxy).is_some_and(|d| d.user != user) {
            // A node reusing a device id for another user: not the same participant.
            return;
        }
        self.room_proxies.insert(proxy);
        self.room_request(proxy, id, op);
    }

    /// The conference told a proxy it is out of its room: the proxy is no longer needed for it.
    pub(crate) fn room_proxy_removed(&mut self, dev: DeviceId) {
        if self.room_proxies.remove(&dev) {
            self.drop_proxy_if_idle(dev);
        }
    }

    /// A proxy's device is gone on its node: out of the room here.
    pub(crate) fn room_proxy_gone(&mut self, proxy: DeviceId) {
        if self.room_proxies.remove(&proxy) {
            self.out.push_back(Output::DeviceGone { device: proxy });
        }
    }

    /// A local device goes: the nodes that held its rooms are told (their proxies go).
    pub(crate) fn device_leaves_remote_room(&mut self, dev: DeviceId) {
        self.remote_rooms.remove(&dev);
        for node in self.room_nodes_told.remove(&dev).unwrap_or_default() {
            self.out.push_back(Output::ToNode { node, msg: NodeMsg::DeviceGone { device: dev } });
        }
    }

    /// The holder told a local device it is out of the room (removed, media lost).
    pub(crate) fn remote_room_left(&mut self, dev: DeviceId, conv: i64) {
        if self.remote_rooms.get(&dev).is_some_and(|(_, c)| *c == conv) {
            self.remote_rooms.remove(&dev);
        }
    }

    /// `node` fell silent: the rooms it held are gone for local devices in them (their
    /// clients join again, elsewhere), and its devices leave the rooms held here.
    pub(crate) fn node_rooms_gone(&mut self, node: &str) {
        let mut lost: Vec<(DeviceId, i64)> =
            self.remote_rooms.iter().filter(|(_, (n, _))| n == node).map(|(d, (_, c))| (*d, *c)).collect();
        lost.sort_unstable();
        for told in self.room_nodes_told.values_mut() {
            told.retain(|n| n != node);
        }
        self.room_nodes_told.retain(|_, told| !told.is_empty());
        for (dev, conv) in lost {
            self.remote_rooms.remove(&dev);
            self.push(dev, |seq| ServerMessage::RoomRemoved { seq, conv, reason: RoomLeaveReason::MediaLost });
        }
        let mut proxies: Vec<DeviceId> = self
            .room_proxies
            .iter()
            .copied()
            .filter(|p| self.devices.get(p).and_then(|d| d.remote.as_ref()).is_some_and(|(n, _)| n == node))
            .collect();
        proxies.sort_unstable();
        for proxy in proxies {
            self.room_proxy_gone(proxy);
            self.drop_proxy_if_idle(proxy);
        }
    }
}
