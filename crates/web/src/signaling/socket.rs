//! `GET /api/v1/ws`: authenticate, check the origin, then pump frames between socket and hub.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use hub::{ConnId, Input};
use proto::ws::{close, MAX_FRAME_BYTES};
use tokio::sync::{mpsc, watch};

use super::hub_task::{Cmd, ConnSink, HubHandle, Outbound, CONN_QUEUE};
use crate::error::HttpError;
use crate::extract::Authed;
use crate::state::AppState;

/// Upgrade to the signaling WebSocket. Needs a valid session cookie and an `Origin` equal to
/// this server's own origin (browsers always send it; a foreign page's socket is refused).
#[utoipa::path(get, path = "/api/v1/ws", tag = "signaling",
    responses((status = 101, description = "switching to the signaling protocol (docs/protocol.md)"),
        (status = 400, description = "not a WebSocket upgrade request"),
        (status = 401, description = "unauthenticated", body = proto::ApiError),
        (status = 403, description = "csrf_failed: missing or foreign Origin", body = proto::ApiError)))]
pub async fn upgrade(
    State(state): State<AppState>,
    a: Authed,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, HttpError> {
    if crate::security::origin_matches(&headers, None) != Some(true) {
        return Err(HttpError::csrf("WebSocket requires this server's own Origin"));
    }
    let user = a.user.id;
    let ids = state.blocking(move |s| Ok(s.relation_ids(user)?)).await?;
    let relations = hub::Relations { contacts: ids.contacts, blocked: ids.blocked };
    let hub = state.hub.clone();
    let conn = hub.new_conn_id();
    let session = a.session.id;
    let guest = a.guest.as_ref().map(|(_, m)| hub::GuestScope { conv: m.conv });
    // A guest who is out learns it here, whenever their page comes back: closed at once.
    if let Some((g, _)) = a.guest.as_ref().filter(|(g, _)| !g.state.active()) {
        let reason = match g.state {
            store::GuestState::Rejected => "rejected",
            store::GuestState::Removed => "removed",
            _ => "ended",
        };
        return Ok(ws.on_upgrade(move |mut socket| async move {
            let frame = CloseFrame { code: proto::ws::close::MEETING_OVER, reason: reason.into() };
            let _ = socket.send(Message::Close(Some(frame))).await;
        }));
    }
    // Small buffers: signaling frames are small, and an idle connection should cost little
    // memory (tungstenite's defaults reserve 128 KiB per socket).
    Ok(ws
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| run(socket, hub, conn, user, session, relations, guest)))
}

async fn run(
    socket: WebSocket,
    hub: HubHandle,
    conn: ConnId,
    user: i64,
    session: i64,
    relations: hub::Relations,
    guest: Option<hub::GuestScope>,
) {
    let (mut tx, mut rx) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Outbound>(CONN_QUEUE);
    let (close_tx, mut close_rx) = watch::channel::<Option<(u16, &'static str)>>(None);
    let mut reader_close = close_rx.clone();
    hub.cmd(Cmd::Open {
        conn,
        user,
        session,
        relations,
        guest,
        sink: ConnSink { tx: out_tx, close: close_tx.clone() },
    })
    .await;

    let writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                out = out_rx.recv() => {
                    let msg = match out {
                        Some(Outbound::Text(t)) => Message::Text(t.into()),
                        Some(Outbound::Ping) => Message::Ping(Vec::new().into()),
                        None => break,
                    };
                    if tx.send(msg).await.is_err() {
                        break;
                    }
                }
                _ = close_rx.changed() => break,
            }
        }
        // The hub drops the queue and sets the close code together; whichever the select saw
        // first, a pending code goes out in the close frame.
        let code = *close_rx.borrow();
        match code {
            Some((code, reason)) => {
                let _ = tx.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
            }
            None => {
                let _ = tx.close().await;
            }
        }
    });

    let mut clean = false;
    loop {
        let frame = tokio::select! {
            f = rx.next() => f,
            _ = reader_close.changed() => break,
        };
        let input = match frame {
            Some(Ok(Message::Text(t))) => Input::Text { conn, text: t.to_string() },
            Some(Ok(Message::Binary(_))) => Input::Binary { conn },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Input::Activity { conn },
            Some(Ok(Message::Close(_))) => {
                clean = true;
                break;
            }
            Some(Err(e)) => {
                // Oversized frames end here: say so before dropping the socket.
                if is_too_big(e) {
                    let _ = close_tx.send(Some((close::TOO_BIG, "frame too large")));
                }
                break;
            }
            None => break,
        };
        hub.input(input).await;
    }
    hub.input(Input::Closed { conn, clean }).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
}

/// Whether a read failed because a frame or message was over the configured size limit.
fn is_too_big(e: axum::Error) -> bool {
    matches!(e.into_inner().downcast_ref::<tungstenite::Error>(), Some(tungstenite::Error::Capacity(_)))
}

#[cfg(test)]
mod tests {
    use super::is_too_big;
    use tungstenite::error::CapacityError;

    #[test]
    fn only_size_limit_errors_count_as_too_big() {
        let too_big = tungstenite::Error::Capacity(CapacityError::MessageTooLong { size: 100_000, max_size: 65_536 });
        assert!(is_too_big(axum::Error::new(too_big)));
        assert!(!is_too_big(axum::Error::new(tungstenite::Error::ConnectionClosed)));
        assert!(!is_too_big(axum::Error::new(std::io::Error::other("frame size mentioned in text"))));
    }
}
