//! Field schemas of the API document that several request types share (utoipa's
//! `schema_with`), so that each rule is written once.

use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

/// Characters no name may hold: control, zero-width and text-direction ones (the set
/// `auth::names::normalize_display_name` refuses, but for the astral tag characters, which a
/// portable pattern cannot name).
macro_rules! hidden {
    () => {
        r"\x00-\x1F\x7F-\x9F\xAD\u034F\u061C\u115F\u1160\u3164\uFFA0\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB"
    };
}

/// A name that must say something: no hidden characters, and one besides spaces.
const NAME: &str = concat!("^[^", hidden!(), "]*[^", r"\s", hidden!(), "][^", hidden!(), "]*$");
/// A name that may be left blank (the default is used then).
const BLANK_OR_NAME: &str = concat!("^[^", hidden!(), "]*$");

fn name_schema(nullable: bool, blank_ok: bool, description: &str) -> Object {
    let ty = if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::Type(Type::String) };
    ObjectBuilder::new()
        .schema_type(ty)
        .description(Some(description))
        .min_length((!blank_ok).then_some(1))
        .max_length(Some(64))
        .pattern(Some(if blank_ok { BLANK_OR_NAME } else { NAME }))
        .build()
}

/// A group's or a meet-by-code guest's name.
pub fn name() -> Object {
    name_schema(
        false,
        false,
        "1 to 64 characters after collapsing spaces; no control, zero-width or text-direction characters.",
    )
}

/// A guest's name where members need none (`null` for them).
pub fn guest_name() -> Object {
    name_schema(
        true,
        false,
        "A guest's display name: 1 to 64 characters, no control, zero-width or text-direction characters.",
    )
}

/// An account's display name: optional, the username when absent or blank.
pub fn display_name() -> Object {
    name_schema(true, true, "Optional; defaults to the username. At most 64 characters, no control, zero-width or text-direction characters.")
}

/// A client's id for a message (a retry with the same id returns the first message);
/// the rule of `chat::validate_client_id`.
pub fn client_id() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("Chosen by the client, unique per message: a retry returns the first message."))
        .pattern(Some(r"^[A-Za-z0-9_-]{1,64}$"))
        .build()
}
