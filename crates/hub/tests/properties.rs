//! Random event sequences against the hub, checking its invariants after every step and
//! what reached whom at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::World;
use hub::Input;
use proptest::prelude::*;
use proto::ws::ServerMessage;

/// Fixed contact graph of four users: 1–2, 2–3, 3–4, 1–3. (1 and 4 are strangers.)
fn contacts(u: i64) -> Vec<i64> {
    match u {
        1 => vec![2, 3],
        2 => vec![1, 3],
        3 => vec![2, 4, 1],
        _ => vec![3],
    }
}

#[derive(Debug, Clone)]
enum Step {
    Connect {
        user: i64,
    },
    CloseClean {
        slot: usize,
    },
    CloseBroken {
        slot: usize,
    },
    Resume {
        slot: usize,
        user: i64,
    },
    Invite {
        slot: usize,
        callee: i64,
        video: bool,
    },
    Accept {
        slot: usize,
        call: u64,
    },
    Decline {
        slot: usize,
        call: u64,
    },
    Hangup {
        slot: usize,
        call: u64,
    },
    Signal {
        slot: usize,
        call: u64,
    },
    Presence {
        slot: usize,
        which: u8,
    },
    Garbage {
        slot: usize,
        junk: String,
    },
    Pong {
        slot: usize,
    },
    Wait {
        secs: u64,
    },
    /// A person-to-person file: offer, then one of accept/decline/signal/end on a transfer id.
    FileOffer {
        slot: usize,
        to: i64,
    },
    FileAct {
        slot: usize,
        transfer: u64,
        kind: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let slot = 0usize..8;
    let call = 1u64..12;
    prop_oneof![
        3 => (1i64..=4).prop_map(|user| Step::Connect { user }),
        1 => slot.clone().prop_map(|slot| Step::CloseClean { slot }),
        1 => slot.clone().prop_map(|slot| Step::CloseBroken { slot }),
        1 => (slot.clone(), 1i64..=4).prop_map(|(slot, user)| Step::Resume { slot, user }),
        3 => (slot.clone(), 1i64..=4, any::<bool>()).prop_map(|(slot, callee, video)| Step::Invite { slot, callee, video }),
        3 => (slot.clone(), call.clone()).prop_map(|(slot, call)| Step::Accept { slot, call }),
        1 => (slot.clone(), call.clone()).prop_map(|(slot, call)| Step::Decline { slot, call }),
        2 => (slot.clone(), call.clone()).prop_map(|(slot, call)| Step::Hangup { slot, call }),
        2 => (slot.clone(), call).prop_map(|(slot, call)| Step::Signal { slot, call }),
        1 => (slot.clone(), 0u8..3).prop_map(|(slot, which)| Step::Presence { slot, which }),
        1 => (slot.clone(), ".{0,40}").prop_map(|(slot, junk)| Step::Garbage { slot, junk }),
        2 => slot.clone().prop_map(|slot| Step::Pong { slot }),
        2 => (0u64..30).prop_map(|secs| Step::Wait { secs }),
        2 => (slot.clone(), 1i64..=4).prop_map(|(slot, to)| Step::FileOffer { slot, to }),
        3 => (slot, 1u64..12, 0u8..5).prop_map(|(slot, transfer, kind)| Step::FileAct { slot, transfer, kind }),
    ]
}

struct Model {
    w: World,
    /// Connections by slot, with their user.
    conns: Vec<(u64, i64)>,
    /// Resume tokens seen per user.
    tokens: HashMap<i64, Vec<String>>,
}

impl Model {
    fn conn(&self, slot: usize) -> Option<(u64, i64)> {
        if self.conns.is_empty() {
            None
        } else {
            Some(self.conns[slot % self.conns.len()])
        }
    }

    fn apply(&mut self, s: &Step) {
        match s {
            Step::Connect { user } => {
                let c = self.w.connect(*user, &contacts(*user));
                self.conns.push((c, *user));
                if let Some(ServerMessage::Welcome { resume_token, .. }) = self.w.msgs(c).first() {
                    self.tokens.entry(*user).or_default().push(resume_token.clone());
                }
            }
            Step::CloseClean { slot } | Step::CloseBroken { slot } => {
                if let Some((c, _)) = self.conn(*slot) {
                    self.w.input(Input::Closed { conn: c, clean: matches!(s, Step::CloseClean { .. }) });
                }
            }
            Step::Resume { slot, user } => {
                let token = self.tokens.get(user).and_then(|t| t.get(slot % t.len().max(1))).cloned();
                if let Some(token) = token {
                    let c = self.w.open(*user, *user, &contacts(*user));
                    self.w.text(c, &format!(r#"{{"type":"hello","v":1,"resume":{{"token":"{token}","last_seq":0}}}}"#));
                    self.conns.push((c, *user));
                }
            }
            Step::Invite { slot, callee, video } => {
                if let Some((c, _)) = self.conn(*slot) {
                    let media = if *video { "video" } else { "audio" };
                    self.w.text(c, &format!(r#"{{"type":"call_invite","id":1,"callee":{callee},"media":"{media}"}}"#));
                }
            }
            Step::Accept { slot, call } | Step::Decline { slot, call } | Step::Hangup { slot, call } => {
                let kind = match s {
                    Step::Accept { .. } => "call_accept",
                    Step::Decline { .. } => "call_decline",
                    _ => "call_hangup",
                };
                if let Some((c, _)) = self.conn(*slot) {
                    self.w.text(c, &format!(r#"{{"type":"{kind}","id":2,"call_id":{call}}}"#));
                }
            }
            Step::Signal { slot, call } => {
                if let Some((c, _)) = self.conn(*slot) {
                    self.w.text(c, &format!(r#"{{"type":"call_signal","call_id":{call},"data":{{"sdp":"x"}}}}"#));
                }
            }
            Step::Presence { slot, which } => {
                if let Some((c, _)) = self.conn(*slot) {
                    let st = ["online", "away", "dnd"][*which as usize];
                    self.w.text(c, &format!(r#"{{"type":"set_presence","status":"{st}"}}"#));
                }
            }
            Step::Garbage { slot, junk } => {
                if let Some((c, _)) = self.conn(*slot) {
                    self.w.text(c, junk);
                }
            }
            Step::Pong { slot } => {
                if let Some((c, _)) = self.conn(*slot) {
                    self.w.input(Input::Activity { conn: c });
                }
            }
            Step::Wait { secs } => self.w.advance(Duration::from_secs(*secs)),
            Step::FileOffer { slot, to } => {
                if let Some((c, _)) = self.conn(*slot) {
                    self.w.text(c, &format!(r#"{{"type":"file_offer","id":3,"to":{to},"name":"f.bin","size":10}}"#));
                }
            }
            Step::FileAct { slot, transfer, kind } => {
                if let Some((c, _)) = self.conn(*slot) {
                    let t = transfer;
                    let frame = match kind {
                        0 => format!(r#"{{"type":"file_accept","transfer_id":{t}}}"#),
                        1 => format!(r#"{{"type":"file_decline","transfer_id":{t}}}"#),
                        2 => format!(r#"{{"type":"file_signal","transfer_id":{t},"data":{{"x":1}}}}"#),
                        3 => format!(r#"{{"type":"file_end","transfer_id":{t},"reason":"completed"}}"#),
                        _ => format!(r#"{{"type":"file_end","transfer_id":{t},"reason":"cancelled"}}"#),
                    };
                    self.w.text(c, &frame);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_sequences(steps in prop::collection::vec(step(), 1..80)) {
        let mut m = Model { w: World::new(), conns: Vec::new(), tokens: HashMap::new() };
        for s in &steps {
            m.apply(s);
            if let Err(e) = m.w.hub.check_invariants() {
                return Err(TestCaseError::fail(format!("after {s:?}: {e}")));
            }
        }
        // Everybody goes silent: heartbeats, grace periods and ring timeouts must clean up all.
        m.w.advance(Duration::from_secs(400));
        prop_assert_eq!(m.w.hub.connection_count(), 0);
        prop_assert_eq!(m.w.hub.online_users(), 0);
        m.w.hub.check_invariants().map_err(TestCaseError::fail)?;

        // Who took part in which call, from the server's own ringing replies.
        let user_of: HashMap<u64, i64> = m.conns.iter().copied().collect();
        let mut parties: HashMap<u64, (i64, i64)> = HashMap::new();
        for (conn, msgs) in &m.w.inbox {
            for msg in msgs {
                if let ServerMessage::CallRinging { call_id, callee, .. } = msg {
                    parties.insert(*call_id, (user_of[conn], *callee));
                }
            }
        }
        let finished: HashSet<u64> = m.w.records.iter().map(|r| r.call_id).collect();
        for call in parties.keys() {
            prop_assert!(finished.contains(call), "call {} never ended", call);
        }
        for (conn, msgs) in &m.w.inbox {
            let me = user_of[conn];
            for msg in msgs {
                match msg {
                    ServerMessage::CallIncoming { call_id, .. }
                    | ServerMessage::CallAccepted { call_id, .. }
                    | ServerMessage::CallSignal { call_id, .. } => {
                        let (a, b) = parties[call_id];
                        prop_assert!(me == a || me == b, "call {} message reached user {}", call_id, me);
                    }
                    ServerMessage::Presence { user, .. } => {
                        prop_assert!(contacts(me).contains(user), "presence of {} reached non-contact {}", user, me);
                    }
                    _ => {}
                }
            }
        }
    }
}
