//! Conference routing. The conference server (crate `sfu`) runs beside the hub; the hub only
//! checks a request's shape and hands it to the driver ([`Output::Room`]), which checks
//! membership in the store and passes it on. Events from the conference come back as
//! [`crate::Input::Push`] (numbered, replayed on resume like any event) and
//! [`crate::Input::Reply`].

use proto::ws::{ServerMessage, UserId, WsErrorCode, MAX_SIGNAL_BYTES};

use crate::core::Hub;
use crate::io::{DeviceId, Output, RoomOp, RoomRequest};

/// Most tiles one `room_tiles` may describe.
pub const MAX_TILES: usize = 100;

impl Hub {
    pub(crate) fn room_request(&mut self, dev: DeviceId, id: Option<u64>, op: RoomOp) {
        let Some(d) = self.devices.get(&dev) else { return };
        let (user, forwarded) = (d.user, d.remote.is_some());
        // A proxy (another node's device) has no connection here: replies go to its node.
        let conn = match d.conn {
            Some(c) => c,
            None if forwarded => 0,
            None => return,
        };
        let too_large = match &op {
            RoomOp::Sdp { sdp, sources, .. } => sdp.len() > MAX_SIGNAL_BYTES || sources.len() > MAX_TILES,
            RoomOp::Tiles { tiles, .. } => tiles.len() > MAX_TILES,
            _ => false,
        };
        if too_large {
            let msg = ServerMessage::Error {
                id,
                code: WsErrorCode::TooLarge,
                message: WsErrorCode::TooLarge.default_message().to_owned(),
            };
            return self.reply_to_device(dev, msg);
        }
        let req = RoomRequest { conn, device: dev, user, id, op, forwarded };
        if !forwarded && self.forward_room_request(&req) {
            return;
        }
        self.out.push_back(Output::Room(req));
    }

    /// A reply (not numbered) to a device: its connection here, or its node for a proxy.
    pub(crate) fn reply_to_device(&mut self, dev: DeviceId, msg: ServerMessage) {
        if self.send_to_proxy(dev, msg.clone()) {
            return;
        }
        if let Some(conn) = self.device_conn(dev) {
            self.reply(conn, msg);
        }
    }

    /// An event from the conference server: numbered per device, to these devices and every
    /// device of these users (each device once).
    pub(crate) fn room_push(&mut self, devices: &[DeviceId], users: &[UserId], msg: ServerMessage) {
        let mut to: Vec<DeviceId> = devices.to_vec();
        to.extend(users.iter().filter_map(|u| self.users.get(u)).flat_map(|u| u.devices.iter().copied()));
        to.sort_unstable();
        to.dedup();
        let removed = matches!(msg, ServerMessage::RoomRemoved { .. });
        for dev in to {
            let m = msg.clone();
            self.push(dev, |seq| m.numbered(seq));
            if removed {
                self.room_proxy_removed(dev);
            }
        }
    }
}
