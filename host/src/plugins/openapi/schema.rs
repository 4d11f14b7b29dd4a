//! Helpers of the document reader: status keys, media types, the validator's findings as
//! text, `nullable` as JSON Schema, JSON Pointer escaping, and a loader that loads nothing.

use serde_json::Value;

/// The response keys that can document `status`, most specific first.
pub(super) fn status_keys(status: u16) -> Vec<String> {
    vec![
        status.to_string(),
        format!("{}XX", status / 100),
        "default".into(),
    ]
}

/// The content entry for a media type: exact (parameters ignored, any case), else a
/// wildcard (`application/*`, `*/*`).
pub(super) fn media_entry<'a>(
    content: &'a serde_json::Map<String, Value>,
    media_type: &str,
) -> Option<(&'a str, &'a Value)> {
    let bare = |k: &str| {
        k.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    let main = media_type.split('/').next().unwrap_or_default();
    let wildcard = |k: &str| k == "*/*" || k.strip_suffix("/*").is_some_and(|m| m == main);
    content
        .iter()
        .find(|(k, _)| bare(k) == media_type)
        .or_else(|| content.iter().find(|(k, _)| wildcard(&bare(k))))
        .map(|(k, v)| (k.as_str(), v))
}

pub(super) fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}

/// The leaf violations of a validation error, as `body/pointer: message`.
pub(super) fn violations(e: &boon::ValidationError<'_, '_>, out: &mut Vec<String>) {
    if e.causes.is_empty() {
        out.push(format!("body{}: {}", e.instance_location, e.kind));
    }
    for cause in &e.causes {
        violations(cause, out);
    }
}

/// Read OpenAPI 3.0's `nullable: true` as JSON Schema: `null` joins the `type` (and the
/// `enum`); a schema with no `type` becomes "null, or what it was".
pub(super) fn nullable_to_null(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(nullable_to_null),
        Value::Object(map) => {
            map.values_mut().for_each(nullable_to_null);
            if map.remove("nullable") != Some(Value::Bool(true)) {
                return;
            }
            if let Some(Value::Array(e)) = map.get_mut("enum")
                && !e.contains(&Value::Null)
            {
                e.push(Value::Null);
            }
            match map.get_mut("type") {
                Some(Value::String(t)) => {
                    let t = std::mem::take(t);
                    map.insert("type".into(), serde_json::json!([t, "null"]));
                }
                Some(Value::Array(ts)) => ts.push(Value::from("null")),
                _ => {
                    let rest = Value::Object(std::mem::take(map));
                    map.insert(
                        "anyOf".into(),
                        serde_json::json!([{ "type": "null" }, rest]),
                    );
                }
            }
        }
        _ => {}
    }
}

/// One JSON pointer reference token.
pub(super) fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A JSON pointer made safe as a URL fragment (the validator percent-decodes fragments).
pub(super) fn percent_encode(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for b in pointer.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@{}".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The validator's loader: a document's `$ref`s stay inside the document.
pub(super) struct NothingOutside;

impl boon::UrlLoader for NothingOutside {
    fn load(&self, url: &str) -> Result<Value, Box<dyn std::error::Error>> {
        Err(format!("{url} is outside the document; only `#/…` references are followed").into())
    }
}
