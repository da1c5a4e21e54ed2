//! The writer: drains the queue, commits a batch, then tells the hub what to deliver.
//!
//! Jobs are split into lanes by conversation, each lane a thread committing its own batches:
//! one lane on SQLite (one writer at a time anyway), several on PostgreSQL, where a commit
//! waits on network round trips that other lanes' commits can overlap. A conversation always
//! goes to the same lane, so its messages keep the order they were sent in.

use std::sync::Arc;

use hub::{ChatEvent, ChatOp, ConnId, Input};
use proto::ws::{ServerMessage, WsErrorCode};
use store::{ChatRefusal, ChatWrite, ChatWritten, Store};
use tokio::sync::{mpsc, oneshot, Notify};

use super::convert;
use crate::signaling::HubHandle;

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 512;
/// Queue length; when full, the hub answers `unavailable` and the client retries.
pub(crate) const QUEUE: usize = 8192;

pub(crate) type ChatQueue = mpsc::Sender<Job>;

pub(crate) struct Job {
    pub user: i64,
    pub op: Op,
    pub origin: Origin,
}

/// What a job asks for: a chat operation from a client, or a file message from an upload.
pub(crate) enum Op {
    Chat(ChatOp),
    /// A [`ChatWrite::SendFile`], made by the upload handler.
    File(ChatWrite),
    /// Answered once every job queued before it is committed and handed to the hub (drain
    /// at shutdown).
    Barrier(oneshot::Sender<()>),
}

impl From<ChatOp> for Op {
    fn from(op: ChatOp) -> Self {
        Op::Chat(op)
    }
}

pub(crate) enum Origin {
    /// From a WebSocket: reply on that connection.
    Ws { conn: ConnId, id: Option<u64> },
    /// From a REST request waiting for the outcome.
    Rest(oneshot::Sender<Result<Result<ChatWritten, ChatRefusal>, String>>),
    /// From the server itself (a [`Op::Barrier`]): nobody to answer.
    Internal,
}

/// Starts the writer's threads. They end when every sender of `rx` is gone.
/// `files_deleted` is woken when a file message was deleted, so its file goes from disk.
pub(crate) fn spawn_writer(
    rx: mpsc::Receiver<Job>,
    store: Arc<dyn Store>,
    hub: HubHandle,
    files_deleted: Arc<Notify>,
    metrics: Arc<crate::metrics::Metrics>,
) -> std::io::Result<()> {
    let mut lanes = Vec::new();
    for i in 0..store.write_lanes().clamp(1, 16) {
        let (tx, lane_rx) = std::sync::mpsc::channel();
        let (store, hub, files_deleted, metrics) = (store.clone(), hub.clone(), files_deleted.clone(), metrics.clone());
        std::thread::Builder::new()
            .name(format!("chat-writer-{i}"))
            .spawn(move || lane(lane_rx, store, hub, files_deleted, metrics))?;
        lanes.push(tx);
    }
    std::thread::Builder::new().name("chat-writer".into()).spawn(move || dispatch(rx, lanes))?;
    Ok(())
}

/// The conversation a job writes to (its lane).
fn conv_of(op: &Op) -> i64 {
    match op {
        Op::Chat(
            ChatOp::Send { conv, .. }
            | ChatOp::Edit { conv, .. }
            | ChatOp::Delete { conv, .. }
            | ChatOp::Receipt { conv, .. }
            | ChatOp::Typing { conv },
        ) => *conv,
        Op::File(
            ChatWrite::Send { conv, .. }
            | ChatWrite::SendFile { conv, .. }
            | ChatWrite::Edit { conv, .. }
            | ChatWrite::Delete { conv, .. }
            | ChatWrite::Receipt { conv, .. },
        ) => *conv,
        Op::Barrier(_) => 0,
    }
}

/// Hands each job to its conversation's lane; a barrier goes to every lane and is answered
/// once all of them passed it.
fn dispatch(mut rx: mpsc::Receiver<Job>, lanes: Vec<std::sync::mpsc::Sender<Job>>) {
    while let Some(job) = rx.blocking_recv() {
        if let Op::Barrier(done) = job.op {
            let mut passed = Vec::new();
            for lane in &lanes {
                let (tx, rx) = oneshot::channel();
                if lane.send(Job { user: job.user, op: Op::Barrier(tx), origin: Origin::Internal }).is_ok() {
                    passed.push(rx);
                }
            }
            for p in passed {
                let _ = p.blocking_recv();
            }
            let _ = done.send(());
            continue;
        }
        let n = lanes.len() as i64;
        let Some(lane) = usize::try_from(conv_of(&job.op).rem_euclid(n)).ok().and_then(|i| lanes.get(i)) else {
            continue;
        };
        // A lane only stops when its receiver is gone, i.e. never before this thread.
        let _ = lane.send(job);
    }
}

fn lane(
    rx: std::sync::mpsc::Receiver<Job>,
    store: Arc<dyn Store>,
    hub: HubHandle,
    files_deleted: Arc<Notify>,
    metrics: Arc<crate::metrics::Metrics>,
) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let (barriers, jobs): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| matches!(j.op, Op::Barrier(_)));
        let (typing, writes): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| matches!(j.op, Op::Chat(ChatOp::Typing { .. })));
        for job in typing {
            relay_typing(store.as_ref(), &hub, job);
        }
        if !writes.is_empty() {
            let (n, started) = (writes.len() as u64, std::time::Instant::now());
            commit(store.as_ref(), &hub, writes, &files_deleted);
            metrics.chat_commit_seconds.observe(started.elapsed().as_secs_f64());
            metrics.chat_writes.inc_by(n);
        }
        for job in barriers {
            if let Op::Barrier(done) = job.op {
                let _ = done.send(());
            }
        }
    }
}

fn to_write(user: i64, op: &Op) -> Option<ChatWrite> {
    let op = match op {
        Op::Chat(op) => op,
        Op::File(w) => return Some(w.clone()),
        Op::Barrier(_) => return None,
    };
    Some(match op.clone() {
        ChatOp::Send { conv, client_id, text } => ChatWrite::Send { user, conv, client_id, text },
        ChatOp::Edit { conv, message, text } => ChatWrite::Edit { user, conv, message, text },
        ChatOp::Delete { conv, message } => ChatWrite::Delete { user, conv, message },
        ChatOp::Receipt { conv, delivered, read } => ChatWrite::Receipt { user, conv, delivered, read },
        ChatOp::Typing { .. } => return None,
    })
}

fn commit(store: &dyn Store, hub: &HubHandle, jobs: Vec<Job>, files_deleted: &Notify) {
    let writes: Vec<ChatWrite> = jobs.iter().filter_map(|j| to_write(j.user, &j.op)).collect();
    match store.chat_write(&writes, crate::unix_now()) {
        Ok(results) => {
            let file_gone = |r: &Result<ChatWritten, ChatRefusal>| {
                matches!(r, Ok(ChatWritten::Message { message, fresh: true, .. })
                    if message.deleted && message.kind == store::MessageKind::File)
            };
            if results.iter().any(file_gone) {
                files_deleted.notify_one();
            }
            for (job, result) in jobs.into_iter().zip(results) {
                deliver(hub, job.origin, result);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, writes = writes.len(), "cannot store chat writes");
            for job in jobs {
                match job.origin {
                    Origin::Ws { conn, id } => {
                        hub.blocking_input(error_reply(conn, id, WsErrorCode::Unavailable, None))
                    }
                    Origin::Rest(tx) => {
                        let _ = tx.send(Err(e.to_string()));
                    }
                    Origin::Internal => {}
                }
            }
        }
    }
}

fn error_reply(conn: ConnId, id: Option<u64>, code: WsErrorCode, message: Option<&str>) -> Input {
    let message = message.unwrap_or(code.default_message()).to_owned();
    Input::chat_deliver(Some((conn, ServerMessage::Error { id, code, message })), vec![], None, None)
}

fn refusal(r: ChatRefusal) -> (WsErrorCode, &'static str) {
    match r {
        ChatRefusal::NoConversation => (WsErrorCode::NoConversation, "no such conversation, or you are not a member"),
        ChatRefusal::NotAllowed => {
            (WsErrorCode::NotAllowed, "you can only write to a contact who has not blocked you (or whom you blocked)")
        }
        ChatRefusal::NoMessage => (WsErrorCode::NoSuchMessage, "no such message in this conversation"),
        ChatRefusal::NotYours => (WsErrorCode::NoSuchMessage, "only the sender can change a message"),
        ChatRefusal::Deleted => (WsErrorCode::NoSuchMessage, "the message was deleted"),
    }
}

/// The stored change as the event its conversation's members receive, if anything changed.
pub(crate) fn event_of(written: &ChatWritten) -> Option<(ChatEvent, Vec<i64>)> {
    match written {
        ChatWritten::Message { message, members, fresh: true } => {
            Some((ChatEvent::Message(convert::message(message)), members.clone()))
        }
        ChatWritten::Receipt { conv, user, delivered_seq, read_seq, members, changed: true } => Some((
            ChatEvent::Receipt { conv: *conv, user: *user, delivered_seq: *delivered_seq, read_seq: *read_seq },
            members.clone(),
        )),
        _ => None,
    }
}

fn deliver(hub: &HubHandle, origin: Origin, result: Result<ChatWritten, ChatRefusal>) {
    match origin {
        Origin::Ws { conn, id } => {
            let written = match result {
                Ok(w) => w,
                Err(r) => {
                    let (code, message) = refusal(r);
                    return hub.blocking_input(error_reply(conn, id, code, Some(message)));
                }
            };
            let reply = match &written {
                ChatWritten::Message { message, .. } => {
                    Some(ServerMessage::ChatAck { id, message: convert::message(message) })
                }
                ChatWritten::Receipt { .. } => id.map(|id| ServerMessage::Ok { id }),
            };
            let (event, to) = event_of(&written).map_or((None, vec![]), |(e, to)| (Some(e), to));
            hub.blocking_input(Input::chat_deliver(reply.map(|r| (conn, r)), to, Some(conn), event));
        }
        Origin::Rest(tx) => {
            if let Ok(written) = &result {
                if let Some((event, to)) = event_of(written) {
                    hub.blocking_input(Input::chat_deliver(None, to, None, Some(event)));
                }
            }
            let _ = tx.send(Ok(result));
        }
        Origin::Internal => {}
    }
}

/// Typing goes only to the other members, and only if the typist is a member.
fn relay_typing(store: &dyn Store, hub: &HubHandle, job: Job) {
    let Op::Chat(ChatOp::Typing { conv }) = job.op else { return };
    let members = match store.conversation_members(conv) {
        Ok(m) => m,
        Err(e) => return tracing::warn!(error = %e, "cannot look up conversation members"),
    };
    if !members.contains(&job.user) {
        return;
    }
    let to: Vec<i64> = members.into_iter().filter(|m| *m != job.user).collect();
    hub.blocking_input(Input::chat_deliver(None, to, None, Some(ChatEvent::Typing { conv, user: job.user })));
}

/// The hub could not queue a request (the writer is far behind): tell the client to retry.
pub(crate) fn queue_full_reply(conn: ConnId, id: Option<u64>) -> Input {
    error_reply(conn, id, WsErrorCode::Unavailable, Some("the server is busy; retry with the same client_id"))
}
