//! Presence aggregation over a user's devices, fan-out to contacts, relation changes.

use proto::ws::{ClientPresence, ContactEvent, ContactPresence, Presence, ServerMessage, UserId};

use crate::core::Hub;

impl Hub {
    /// A user's presence over all their devices, here and on the other nodes of a cluster.
    pub(crate) fn aggregate(&self, user: UserId) -> Presence {
        self.local_aggregate(user).max(self.remote.best(user))
    }

    /// A user's presence from their devices on this node: do-not-disturb wins, then in-a-call,
    /// then any active tab, then away.
    pub(crate) fn local_aggregate(&self, user: UserId) -> Presence {
        let Some(u) = self.users.get(&user) else { return Presence::Offline };
        let devices = u.devices.iter().filter_map(|d| self.devices.get(d));
        let mut best = Presence::Offline;
        for d in devices {
            let p = if d.status == ClientPresence::Dnd {
                Presence::Dnd
            } else if d.call.is_some() {
                Presence::Busy
            } else if d.status == ClientPresence::Online {
                Presence::Online
            } else {
                Presence::Away
            };
            best = best.max(p);
        }
        best
    }

    /// Recomputes a user's presence and pushes a change to every device of every contact.
    pub(crate) fn refresh_presence(&mut self, user: UserId) {
        self.publish_local(user);
        let now_shown = self.aggregate(user);
        let Some(u) = self.users.get_mut(&user) else { return };
        if u.shown == now_shown {
            return;
        }
        u.shown = now_shown;
        self.totals.presence_changes += 1;
        let targets = self.contact_devices(user);
        for dev in targets {
            self.push(dev, |seq| ServerMessage::Presence { seq, user, status: now_shown });
        }
    }

    /// Devices of the user's contacts that are loaded (online or in grace).
    fn contact_devices(&self, user: UserId) -> Vec<crate::DeviceId> {
        let Some(u) = self.users.get(&user) else { return Vec::new() };
        u.contacts.iter().filter_map(|c| self.users.get(c)).flat_map(|cu| cu.devices.iter().copied()).collect()
    }

    /// Every contact's current presence, for `welcome`.
    pub(crate) fn contact_presence(&self, user: UserId) -> Vec<ContactPresence> {
        let Some(u) = self.users.get(&user) else { return Vec::new() };
        let mut list: Vec<ContactPresence> =
            u.contacts.iter().map(|&c| ContactPresence { user: c, status: self.presence_of(c) }).collect();
        list.sort_by_key(|p| p.user);
        list
    }

    pub(crate) fn relation_changed(
        &mut self,
        a: UserId,
        b: UserId,
        contacts: bool,
        blocked: bool,
        event_for_a: Option<ContactEvent>,
        event_for_b: Option<ContactEvent>,
    ) {
        for (me, other) in [(a, b), (b, a)] {
            if let Some(u) = self.users.get_mut(&me) {
                if contacts {
                    u.contacts.insert(other);
                } else {
                    u.contacts.remove(&other);
                }
                if blocked {
                    u.blocked.insert(other);
                } else {
                    u.blocked.remove(&other);
                }
            }
        }
        for (me, other, event) in [(a, b, event_for_a), (b, a, event_for_b)] {
            let devices = self.users.get(&me).map(|u| u.devices.clone()).unwrap_or_default();
            let status = self.presence_of(other);
            for dev in devices {
                if let Some(event) = event {
                    self.push(dev, |seq| ServerMessage::ContactsChanged { seq, user: other, event });
                }
                if contacts {
                    self.push(dev, |seq| ServerMessage::Presence { seq, user: other, status });
                }
            }
        }
    }

    /// Whether `a` may call `b` under the policy.
    pub(crate) fn may_call(&self, a: UserId, b: UserId) -> bool {
        let Some(u) = self.users.get(&a) else { return false };
        if u.blocked.contains(&b) || self.users.get(&b).is_some_and(|v| v.blocked.contains(&a)) {
            return false;
        }
        !self.cfg.calls_only_between_contacts || u.contacts.contains(&b)
    }
}
