//! Presence across the nodes of a cluster.
//!
//! Each node's hub knows its own devices. The driver carries two things over the bus: what
//! this hub publishes ([`Output::LocalPresence`]: a user's presence from this node's devices
//! alone, whenever it changes) and what the other nodes publish ([`Input::RemotePresence`],
//! and [`Input::NodeState`], each node's whole list, sent periodically, which also repairs
//! anything a lost message left wrong). A user's presence is the strongest over all nodes;
//! when a node falls silent the driver says [`Input::NodeGone`] and its users' presence goes.
//!
//! Local contacts are told about a user whether or not that user has a device here: for a
//! user with none, the hub keeps what it last told them in `remote_shown`.

use std::collections::{BTreeSet, HashMap};

use proto::ws::{Presence, ServerMessage, UserId};

use crate::core::Hub;
use crate::io::{DeviceId, Output};

/// What a node says of one of its users: how they show there, and their devices there (the
/// devices a call to them rings).
pub type NodeUser = (UserId, Presence, Vec<DeviceId>);

/// Presence of users on the other nodes, by user, then node.
#[derive(Default)]
pub(crate) struct Remote {
    pub by_user: HashMap<UserId, HashMap<String, (Presence, Vec<DeviceId>)>>,
    /// Users each node has said something about (to replace a node's list at once).
    pub by_node: HashMap<String, BTreeSet<UserId>>,
    /// For users without a device here: the presence last shown to local contacts.
    pub shown: HashMap<UserId, Presence>,
    /// Per user, the local presence and devices last published (absent: offline).
    pub published: HashMap<UserId, (Presence, Vec<DeviceId>)>,
}

impl Remote {
    pub fn best(&self, user: UserId) -> Presence {
        self.by_user.get(&user).and_then(|m| m.values().map(|(p, _)| *p).max()).unwrap_or(Presence::Offline)
    }

    /// The user's devices on other nodes, as (node, device there).
    pub fn devices(&self, user: UserId) -> Vec<(String, DeviceId)> {
        let mut all: Vec<(String, DeviceId)> = self
            .by_user
            .get(&user)
            .into_iter()
            .flatten()
            .flat_map(|(node, (_, devs))| devs.iter().map(move |d| (node.clone(), *d)))
            .collect();
        all.sort();
        all
    }

    /// Records `node`'s word about `user`; whether their presence changed.
    fn set(&mut self, node: &str, user: UserId, status: Presence, devices: Vec<DeviceId>) -> bool {
        let entry = self.by_user.entry(user).or_default();
        let changed = if status == Presence::Offline {
            entry.remove(node).is_some_and(|(p, _)| p != Presence::Offline)
        } else {
            entry.insert(node.to_owned(), (status, devices)).map(|(p, _)| p) != Some(status)
        };
        if entry.is_empty() {
            self.by_user.remove(&user);
        }
        let users = self.by_node.entry(node.to_owned()).or_default();
        if status == Presence::Offline {
            users.remove(&user);
        } else {
            users.insert(user);
        }
        changed
    }
}

impl Hub {
    /// Another node says how `user` shows there, and on which devices.
    pub(crate) fn remote_presence(&mut self, node: &str, user: UserId, status: Presence, devices: Vec<DeviceId>) {
        if self.remote.set(node, user, status, devices) {
            self.presence_changed_somewhere(user);
        }
    }

    /// Another node's whole list (`users` not listed are offline there).
    pub(crate) fn node_state(&mut self, node: &str, users: Vec<NodeUser>) {
        let before = self.remote.by_node.get(node).cloned().unwrap_or_default();
        let listed: BTreeSet<UserId> = users.iter().map(|(u, _, _)| *u).collect();
        let mut changed = Vec::new();
        for &user in before.difference(&listed) {
            if self.remote.set(node, user, Presence::Offline, Vec::new()) {
                changed.push(user);
            }
        }
        for (user, status, devices) in users {
            if self.remote.set(node, user, status, devices) {
                changed.push(user);
            }
        }
        if listed.is_empty() {
            self.remote.by_node.remove(node);
        }
        for user in changed {
            self.presence_changed_somewhere(user);
        }
    }

    /// What this node's devices show, user by user (for the driver's periodic list).
    pub fn local_presence(&self) -> Vec<NodeUser> {
        let mut list: Vec<NodeUser> =
            self.remote.published.iter().map(|(u, (p, devs))| (*u, *p, devs.clone())).collect();
        list.sort_unstable();
        list
    }

    /// Publishes a change of the user's presence (or devices) on this node alone.
    pub(crate) fn publish_local(&mut self, user: UserId) {
        let local = self.local_aggregate(user);
        let mut devices = self.users.get(&user).map(|u| u.devices.clone()).unwrap_or_default();
        devices.sort_unstable();
        let now = (local, if local == Presence::Offline { Vec::new() } else { devices });
        let before = self.remote.published.get(&user).cloned().unwrap_or((Presence::Offline, Vec::new()));
        if now == before {
            return;
        }
        if local == Presence::Offline {
            self.remote.published.remove(&user);
        } else {
            self.remote.published.insert(user, now.clone());
        }
        self.out.push_back(Output::LocalPresence { user, status: now.0, devices: now.1 });
    }

    /// The user's presence changed on another node: tell local contacts if what they see
    /// changes.
    fn presence_changed_somewhere(&mut self, user: UserId) {
        if self.users.contains_key(&user) {
            self.refresh_presence(user);
            return;
        }
        let now_shown = self.remote.best(user);
        let before = self.remote.shown.get(&user).copied().unwrap_or(Presence::Offline);
        if now_shown == Presence::Offline {
            self.remote.shown.remove(&user);
        } else {
            self.remote.shown.insert(user, now_shown);
        }
        if now_shown == before {
            return;
        }
        self.totals.presence_changes += 1;
        // Local users who have this user as a contact (only loaded users can be told).
        let watchers: Vec<crate::DeviceId> = self
            .users
            .values()
            .filter(|u| u.contacts.contains(&user))
            .flat_map(|u| u.devices.iter().copied())
            .collect();
        for dev in watchers {
            self.push(dev, |seq| ServerMessage::Presence { seq, user, status: now_shown });
        }
    }
}
