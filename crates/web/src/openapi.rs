//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;

use crate::api;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mywebrtc REST API",
        version = "1",
        description = "Accounts, sessions, administration, contacts, call history and chat of a mywebrtc server (the signaling WebSocket is described in docs/protocol.md). Every error body is an ApiError with a stable `code`. State-changing requests need the session's CSRF token in `X-CSRF-Token` and, from browsers, a same-origin `Origin`."
    ),
    paths(
        api::health::healthz,
        api::health::readyz,
        api::session::login,
        api::session::current,
        api::session::logout,
        api::session::list,
        api::session::revoke,
        api::session::change_password,
        api::register::check,
        api::register::register,
        api::admin::list_users,
        api::admin::create_user,
        api::admin::update_user,
        api::admin::delete_user,
        api::admin::create_invite,
        api::admin::list_invites,
        api::contacts::search,
        api::contacts::list,
        api::contacts::request,
        api::contacts::accept,
        api::contacts::decline,
        api::contacts::cancel,
        api::contacts::remove,
        api::contacts::block,
        api::contacts::unblock,
        api::calls::history,
        api::calls::missed_seen,
        api::calls::ice_servers,
        api::conversations::list,
        api::conversations::create,
        api::conversations::get,
        api::conversations::rename,
        api::conversations::add_member,
        api::conversations::remove_member,
        api::conversations::messages,
        api::conversations::post,
        api::attachments::upload,
        api::attachments::download,
        api::attachments::limits,
        crate::signaling::socket::upgrade,
    ),
    components(schemas(proto::ApiError, proto::ErrorCode))
)]
struct ApiDoc;

/// The document as pretty JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json())
}
