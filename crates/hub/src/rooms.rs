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
        let Some(conn) = self.device_conn(dev) else { return };
        let Some(user) = self.devices.get(&dev).map(|d| d.user) else { return };
        let too_large = match &op {
            RoomOp::Sdp { sdp, sources, .. } => sdp.len() > MAX_SIGNAL_BYTES || sources.len() > MAX_TILES,
            RoomOp::Tiles { tiles, .. } => tiles.len() > MAX_TILES,
            _ => false,
        };
        if too_large {
            return self.reply_error(conn, id, WsErrorCode::TooLarge, WsErrorCode::TooLarge.default_message());
        }
        self.out.push_back(Output::Room(RoomRequest { conn, device: dev, user, id, op }));
    }

    /// An event from the conference server: numbered per device, to these devices and every
    /// device of these users (each device once).
    pub(crate) fn room_push(&mut self, devices: &[DeviceId], users: &[UserId], msg: ServerMessage) {
        let mut to: Vec<DeviceId> = devices.to_vec();
        to.extend(users.iter().filter_map(|u| self.users.get(u)).flat_map(|u| u.devices.iter().copied()));
        to.sort_unstable();
        to.dedup();
        for dev in to {
            let m = msg.clone();
            self.push(dev, |seq| m.numbered(seq));
        }
    }
}
