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
        api::meetings::create,
        api::meetings::list,
        api::meetings::get,
        api::meetings::update,
        api::meetings::end,
        api::meetings::admit,
        api::meetings::reject,
        api::meetings::remove_guest,
        api::meetings::accept,
        api::meetings::decline,
        api::meetings::leave,
        api::meetings::join,
        api::meetings::meet_by_code,
        crate::signaling::socket::upgrade,
    ),
    components(schemas(proto::ApiError, proto::ErrorCode)),
    modifiers(&CommonResponses, &ClosedVariants)
)]
struct ApiDoc;

/// Declares, on every operation, the errors the shared extractors and middleware can answer
/// with (so a schema-driven client or tester meets no undocumented status): 401 without a
/// session, 403 `csrf_failed` on state-changing requests, 400/413/415/422 for bodies, 400 for
/// unparsable path and query parameters. Each handler declares its own outcomes itself.
struct CommonResponses;

/// The variants of `NewConversation` refuse unknown fields (serde's `deny_unknown_fields` on a
/// tagged enum), which utoipa does not carry over to the variants' schemas: say so, so that
/// clients and testers know an extra field is an error.
struct ClosedVariants;

impl utoipa::Modify for ClosedVariants {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{AdditionalProperties, Schema};
        use utoipa::openapi::RefOr;
        let Some(components) = doc.components.as_mut() else { return };
        if let Some(RefOr::T(Schema::OneOf(one))) = components.schemas.get_mut("NewConversation") {
            for item in one.items.iter_mut() {
                if let RefOr::T(Schema::Object(variant)) = item {
                    variant.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

/// Operations anyone may call, without a session.
const PUBLIC: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/api/v1/session"),
    ("post", "/api/v1/register"),
    ("post", "/api/v1/invites/check"),
];

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ApiError"))).build())
        .build()
        .into()
}

impl utoipa::Modify for CommonResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        for (path, item) in doc.paths.paths.iter_mut() {
            let ops = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, op) in ops {
                let Some(op) = op.as_mut() else { continue };
                let mut add = |status: &str, description: &str| {
                    op.responses.responses.entry(status.to_owned()).or_insert_with(|| error_response(description));
                };
                let public = PUBLIC.contains(&(method, path.as_str()));
                if !public {
                    add("401", "unauthenticated: no valid session");
                }
                if method != "get" {
                    add("403", "csrf_failed: missing or wrong X-CSRF-Token, or a foreign Origin");
                }
                if op.request_body.is_some() {
                    add("400", "invalid_json: the body is not JSON");
                    add("413", "body_too_large");
                    add("415", "unsupported_media_type: the body must be application/json");
                    add("422", "invalid_body or invalid_field");
                }
                let params = op.parameters.as_deref().unwrap_or(&[]);
                let has_params = path.contains('{')
                    || params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query));
                if has_params {
                    add("400", "invalid_field / invalid_body: a path or query parameter does not parse");
                }
            }
        }
    }
}

/// The document as pretty JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json())
}
