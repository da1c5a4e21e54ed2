//! Meetings wired to the rest of the server: who is told what when guests arrive, are let
//! in or put out, and when a meeting ends (its guests closed out, everyone out of its call).
//! The HTTP handlers are in `api::meetings`; the sans-IO parts (codes, rendezvous, guess
//! limiter) in the `meetings` crate.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use hub::Input;
use meetings::{GuessLimiter, Rendezvous};
use proto::meetings::{GuestInfo, MeetingAccess, MeetingInfo};
use proto::ws::ServerMessage;

use crate::conference::Conference;
use crate::signaling::HubHandle;

/// Waiting rooms of meet-by-code at most (each is one guest account waiting `code_window`).
const MAX_WAITING_CODES: usize = 10_000;

/// The live state of meetings that is not in the store.
pub struct Meetings {
    guesses: Mutex<GuessLimiter>,
    /// Held across the store calls of one arrival, so two people typing the same code at the
    /// same moment are paired, never both made first.
    pub(crate) rendezvous: tokio::sync::Mutex<Rendezvous>,
}

impl Meetings {
    pub fn new(cfg: &crate::config::MeetingsConfig) -> Self {
        Self {
            guesses: Mutex::new(GuessLimiter::new(cfg.guesses)),
            rendezvous: tokio::sync::Mutex::new(Rendezvous::new(cfg.code_window, MAX_WAITING_CODES)),
        }
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, GuessLimiter> {
        self.guesses.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Charges an attempt with a link or code. `Err(wait)` if this address (or everyone
    /// together) has guessed too much.
    pub fn attempt(&self, addr: std::net::IpAddr) -> Result<(), std::time::Duration> {
        self.limiter().attempt(addr, Instant::now())
    }

    /// The attempt found a meeting (or a person at a code): refunded.
    pub fn found(&self, addr: std::net::IpAddr) {
        self.limiter().found(addr);
    }
}

/// What the hub, the conference and the store are, for the functions below.
#[derive(Clone)]
pub struct Wiring {
    pub store: Arc<dyn store::Store>,
    pub hub: HubHandle,
    pub conference: Option<Arc<Conference>>,
}

impl Wiring {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn store::Store) -> Result<T, store::StoreError> + Send + 'static,
    ) -> Option<T> {
        let s = self.store.clone();
        match tokio::task::spawn_blocking(move || f(s.as_ref())).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "meeting store call failed");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "meeting store task failed");
                None
            }
        }
    }

    /// Tells the meeting's hosts who waits in its lobby now.
    pub async fn lobby_changed(&self, meeting: i64, arrived: Option<i64>) {
        let Some((m, hosts, guests)) = self
            .blocking(move |s| {
                let m = s.meeting(meeting)?;
                Ok((m, s.meeting_hosts(meeting)?, s.guests_of(meeting)?))
            })
            .await
        else {
            return;
        };
        let Some(m) = m else { return };
        let waiting: Vec<GuestInfo> =
            guests.iter().filter(|g| g.state == store::GuestState::Waiting).map(guest_info).collect();
        let msg = ServerMessage::MeetingLobby { seq: 0, meeting, title: m.title, waiting, arrived };
        self.hub.input(Input::Push { devices: vec![], users: hosts, msg: Box::new(msg) }).await;
    }

    /// A guest was let in: they join the call.
    pub async fn admitted(&self, meeting: &store::Meeting, guests: Vec<i64>) {
        let msg = ServerMessage::MeetingAdmitted { seq: 0, meeting: meeting.id, conv: meeting.conv };
        self.hub.input(Input::Push { devices: vec![], users: guests, msg: Box::new(msg) }).await;
    }

    /// A guest is out (the store has disabled them already): their sockets close with the
    /// reason, and they leave the call at once.
    pub async fn guest_out(&self, conv: i64, guest: i64, reason: &'static str) {
        if let Some(c) = &self.conference {
            c.remove_user(conv, guest);
        }
        self.hub.input(Input::GuestOut { user: guest, reason }).await;
    }

    /// Ends the meeting for everyone: guests out (`reason`), members told and out of its call.
    pub async fn end(&self, meeting: i64, reason: &'static str) {
        let now = crate::unix_now();
        let Some((m, guests, members)) = self
            .blocking(move |s| {
                let m = s.meeting(meeting)?.ok_or(store::StoreError::NotFound)?;
                let members = s.conversation_members(m.conv)?;
                let guests = s.end_meeting(meeting, now)?;
                Ok((m, guests, members))
            })
            .await
        else {
            return;
        };
        tracing::info!(meeting, reason, guests = guests.len(), "meeting ended");
        for g in guests {
            self.guest_out(m.conv, g, reason).await;
        }
        if let Some(c) = &self.conference {
            for &u in &members {
                c.remove_user(m.conv, u);
            }
        }
        let msg = ServerMessage::MeetingEnded { seq: 0, meeting, conv: m.conv };
        self.hub.input(Input::Push { devices: vec![], users: members, msg: Box::new(msg) }).await;
        self.lobby_changed(meeting, None).await;
    }

    /// Ends meetings whose time ran out, every `every`, for as long as the server runs.
    pub fn spawn_sweeper(self, every: std::time::Duration) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let now = crate::unix_now();
                let Some(due) = self.blocking(move |s| s.meetings_past_end(now)).await else { continue };
                for id in due {
                    self.end(id, "ended").await;
                }
            }
        });
    }

    /// The set of people in a conversation's call changed from `before` to `now`: a meeting
    /// whose last host left and did not come back within `end_without_hosts` (if set), or a
    /// meet-by-code meeting both left, ends.
    pub async fn call_changed(
        &self,
        conv: i64,
        before: Vec<i64>,
        now: Vec<i64>,
        end_without_hosts: Option<std::time::Duration>,
    ) {
        if before.is_empty() {
            return;
        }
        let Some(Some((m, hosts))) = self
            .blocking(move |s| {
                let Some(m) = s.meeting_by_conv(conv)? else { return Ok(None) };
                let hosts = s.meeting_hosts(m.id)?;
                Ok(Some((m, hosts)))
            })
            .await
        else {
            return;
        };
        if m.ended_at.is_some() {
            return;
        }
        let had_host = before.iter().any(|u| hosts.contains(u));
        let has_host = now.iter().any(|u| hosts.contains(u));
        if m.by_code && now.is_empty() {
            self.end(m.id, "ended").await;
            return;
        }
        if let (Some(grace), true) = (end_without_hosts, had_host && !has_host) {
            tokio::time::sleep(grace).await;
            let back = self.conference.as_ref().map(|c| c.users_in(conv)).unwrap_or_default();
            if !back.iter().any(|u| hosts.contains(u)) {
                self.end(m.id, "ended").await;
            }
        }
    }
}

pub fn guest_info(g: &store::Guest) -> GuestInfo {
    GuestInfo {
        id: g.user.id,
        display_name: g.user.display_name.clone(),
        state: g.state.as_str().to_owned(),
        since: g.created_at,
    }
}

pub fn access_to_proto(a: store::MeetingAccess) -> MeetingAccess {
    match a {
        store::MeetingAccess::Members => MeetingAccess::Members,
        store::MeetingAccess::Lobby => MeetingAccess::Lobby,
        store::MeetingAccess::Locked => MeetingAccess::Locked,
    }
}

pub fn access_from_proto(a: MeetingAccess) -> store::MeetingAccess {
    match a {
        MeetingAccess::Members => store::MeetingAccess::Members,
        MeetingAccess::Lobby => store::MeetingAccess::Lobby,
        MeetingAccess::Locked => store::MeetingAccess::Locked,
    }
}

/// A meeting as `role` sees it (`host` also gets link and code); `guests` as given (hosts'
/// view, or the two people of a meet-by-code meeting).
pub fn info(m: &store::Meeting, role: &str, hosts: Vec<String>, guests: &[store::Guest], now: i64) -> MeetingInfo {
    let host = role == "host";
    let mut guests: Vec<GuestInfo> = guests.iter().map(guest_info).collect();
    guests.sort_by_key(|g| (g.state != "waiting", g.since, g.id));
    MeetingInfo {
        id: m.id,
        title: m.title.clone(),
        conv: m.conv,
        link: host.then(|| format!("/m/{}", m.link_token)),
        code: if host { m.code.as_deref().map(meetings::codes::format_meeting_code) } else { None },
        access: access_to_proto(m.access),
        starts_at: m.starts_at,
        ends_at: m.ends_at,
        ended: !m.live(now),
        by_code: m.by_code,
        role: role.to_owned(),
        hosts,
        guests,
    }
}
