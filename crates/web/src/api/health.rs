use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use proto::rest::Health;

use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Readiness: the database answers too.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.blocking(|s| Ok(s.ping()?)).await {
        Ok(()) => (StatusCode::OK, Json(Health { status: "ready".into() })),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "database unavailable".into() })),
    }
}
