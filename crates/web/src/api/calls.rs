//! Call history.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use proto::rest::{CallEntry, IceConfig, IceServer, IceTransportPolicy};
use serde::Deserialize;

use super::session::user_info;
use crate::error::HttpError;
use crate::extract::{ApiQuery, Authed};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// At most this many entries (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Calls the caller placed or received, newest first.
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls", params(HistoryQuery),
    responses((status = 200, body = Vec<CallEntry>), (status = 422, description = "invalid_field: limit outside 1–200", body = proto::ApiError)))]
pub async fn history(
    State(state): State<AppState>,
    a: Authed,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<CallEntry>>, HttpError> {
    let me = a.user.id;
    let limit = super::page_limit(q.limit)?;
    let entries = state
        .blocking(move |s| {
            let rows = s.list_calls(me, limit)?;
            let mut out = Vec::with_capacity(rows.len());
            // Group calls of one conversation repeat: its name is read once.
            let mut conv_names: std::collections::HashMap<i64, Option<String>> = Default::default();
            for r in rows {
                let placed = r.caller == Some(me);
                let other_id = if placed { r.callee } else { r.caller };
                let other = match other_id {
                    Some(id) => s.user_by_id(id)?.as_ref().map(user_info),
                    None => None,
                };
                let conv_name = match r.conv {
                    Some(c) => match conv_names.get(&c) {
                        Some(name) => name.clone(),
                        None => {
                            let name = s.conversation(me, c)?.map(|c| c.name);
                            conv_names.insert(c, name.clone());
                            name
                        }
                    },
                    None => None,
                };
                // A group call the member declined was not missed (a 1:1 call's decline stays
                // in the missed list, as before).
                let declined_group = r.conv.is_some() && r.reason == "declined";
                let missed = !(placed || r.answered || declined_group);
                out.push(CallEntry {
                    id: r.id,
                    direction: if placed { "placed" } else { "received" }.into(),
                    other,
                    media: r.media,
                    answered: r.answered,
                    reason: r.reason,
                    missed,
                    seen: placed || r.answered || r.callee_seen,
                    started_at: r.started_at,
                    ring_secs: r.ring_secs,
                    talk_secs: r.talk_secs,
                    conv: r.conv,
                    conv_name,
                });
            }
            Ok(out)
        })
        .await?;
    Ok(Json(entries))
}

/// Mark all missed calls as seen.
#[utoipa::path(post, path = "/api/v1/calls/missed/seen", tag = "calls", responses((status = 204)))]
pub async fn missed_seen(State(state): State<AppState>, a: Authed) -> Result<StatusCode, HttpError> {
    let me = a.user.id;
    state.blocking(move |s| Ok(s.mark_missed_seen(me)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// ICE servers (STUN/TURN) for the caller's `RTCPeerConnection`, with fresh time-limited
/// credentials for our TURN server.
#[utoipa::path(get, path = "/api/v1/ice-servers", tag = "calls", responses((status = 200, body = IceConfig),
    (status = 401, body = proto::ApiError), (status = 429, description = "rate_limited: this session or address spent its budget", body = proto::ApiError)))]
pub async fn ice_servers(State(state): State<AppState>, a: Authed, _budget: crate::budget::Budget) -> Json<IceConfig> {
    let mut servers = state.config.ice_servers.clone();
    let mut expires_at = None;
    if let Some(t) = &state.config.turn {
        let now = crate::unix_now();
        // A guest's relay credentials end with their meeting, and are scoped: they relay to
        // the conference port only.
        let (ttl, label) = match &a.guest {
            Some((_, m)) => (
                t.ttl.as_secs().min(m.ends_at.saturating_sub(now).max(1) as u64),
                format!("{}{}", turn::credentials::SCOPED_PREFIX, a.user.id),
            ),
            None => (t.ttl.as_secs(), a.user.id.to_string()),
        };
        let (username, credential) = turn::credentials::issue(&t.secret, &label, now as u64, ttl);
        expires_at = Some(now + ttl as i64);
        // Browsers refuse a self-signed certificate for `turns:` without asking, and each call
        // would pay a failed TLS handshake: offered only with a real certificate.
        let self_signed = matches!(state.config.tls, crate::config::TlsSource::SelfSigned { .. });
        let urls = t.urls.iter().filter(|u| !(self_signed && u.starts_with("turns:"))).cloned().collect();
        servers.insert(0, IceServer { urls, username: Some(username), credential: Some(credential) });
    }
    let ice_transport_policy =
        if state.config.force_relay { IceTransportPolicy::Relay } else { IceTransportPolicy::All };
    Json(IceConfig { ice_servers: servers, ice_transport_policy, expires_at })
}
