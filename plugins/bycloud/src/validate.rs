//! Request bodies and ids: the create body, the restore body and UUIDs.
//!
//! As the API documents its bodies: unknown fields are ignored and an absent field takes its
//! default, but a field that is present must have its documented type, so `null` is a 400
//! (the document declares no field nullable); an empty create body is only missing its
//! `volume_id`. Malformed JSON, a body that is not an object, a field of the wrong type or
//! `null`, a `volume_id` or `snapshot_id` that is not a UUID, over-long text, and metadata
//! that is not an object of strings with keys of 1 to 255 characters are 400s whose
//! `details` name every offending field.

use backup_gateway_sdk::Request;
use serde_json::{Map, Value};

use crate::errors::ApiError;

/// Longest `name`, `description` and `container`, and metadata key or value (Cinder's limit).
pub const MAX_TEXT: usize = 255;

/// The validated `POST /v1/backups` body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateBody {
    /// The volume to back up (lower-case UUID).
    pub volume_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Container.
    pub container: Option<String>,
    /// Incremental backup.
    pub incremental: bool,
    /// Back up even if the volume is attached.
    pub force: bool,
    /// Snapshot (lower-case UUID).
    pub snapshot_id: Option<String>,
    /// Client metadata.
    pub metadata: Map<String, Value>,
}

/// The validated `POST /v1/backups/{id}/restore` body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RestoreBody {
    /// The volume to restore into; none creates a new one.
    pub volume_id: Option<String>,
    /// Name of the new volume.
    pub name: Option<String>,
}

/// Whether `s` is a hyphenated UUID (8-4-4-4-12 hex digits, any case).
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A UUID in its canonical lower-case form, when `s` is one.
pub fn uuid(s: &str) -> Option<String> {
    is_uuid(s).then(|| s.to_ascii_lowercase())
}

/// The body as a JSON object (an empty body is an empty object).
fn object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    match req.json_body() {
        Ok(None) => Ok(Map::new()),
        Ok(Some(Value::Object(map))) => Ok(map),
        Ok(Some(_)) => Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "The request body is not valid JSON: {e}."
        ))),
    }
}

/// Collects field problems, so one answer names them all.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, field: &str, what: &str) {
        self.0.push(format!("Field '{field}' {what}"));
    }

    fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::bad_request(self.0.join("; ")))
        }
    }

    /// `null` given for a field.
    fn null(&mut self, field: &str) {
        self.add(field, "must not be null");
    }

    /// An optional string of at most [`MAX_TEXT`] characters.
    fn text(&mut self, body: &Map<String, Value>, field: &str) -> Option<String> {
        match body.get(field) {
            None => None,
            Some(Value::Null) => {
                self.null(field);
                None
            }
            Some(Value::String(s)) if s.chars().count() <= MAX_TEXT => Some(s.clone()),
            Some(Value::String(_)) => {
                self.add(field, &format!("must be at most {MAX_TEXT} characters"));
                None
            }
            Some(_) => {
                self.add(field, "must be a string");
                None
            }
        }
    }

    /// An optional boolean (false when absent).
    fn flag(&mut self, body: &Map<String, Value>, field: &str) -> bool {
        match body.get(field) {
            None => false,
            Some(Value::Null) => {
                self.null(field);
                false
            }
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.add(field, "must be a boolean");
                false
            }
        }
    }

    /// An optional UUID, lower-cased.
    fn uuid(&mut self, body: &Map<String, Value>, field: &str) -> Option<String> {
        match body.get(field) {
            None => None,
            Some(Value::Null) => {
                self.null(field);
                None
            }
            Some(Value::String(s)) => {
                let id = uuid(s);
                if id.is_none() {
                    self.add(field, "must be a UUID");
                }
                id
            }
            Some(_) => {
                self.add(field, "must be a UUID string");
                None
            }
        }
    }

    /// Metadata: an object of strings, keys 1..=255 and values up to 255 characters.
    fn metadata(&mut self, body: &Map<String, Value>) -> Map<String, Value> {
        match body.get("metadata") {
            None => Map::new(),
            Some(Value::Null) => {
                self.null("metadata");
                Map::new()
            }
            Some(Value::Object(map)) => {
                let mut ok = true;
                for (k, v) in map {
                    if k.is_empty() || k.chars().count() > MAX_TEXT {
                        self.add(
                            "metadata",
                            &format!("keys must be 1 to {MAX_TEXT} characters"),
                        );
                        ok = false;
                        break;
                    }
                    match v {
                        Value::String(s) if s.chars().count() <= MAX_TEXT => {}
                        Value::String(_) => {
                            self.add(
                                &format!("metadata.{k}"),
                                &format!("must be at most {MAX_TEXT} characters"),
                            );
                            ok = false;
                        }
                        _ => {
                            self.add(&format!("metadata.{k}"), "must be a string");
                            ok = false;
                        }
                    }
                }
                if ok { map.clone() } else { Map::new() }
            }
            Some(_) => {
                self.add("metadata", "must be an object");
                Map::new()
            }
        }
    }
}

/// Validate the create body.
pub fn create_body(req: &Request) -> Result<CreateBody, ApiError> {
    let body = object(req)?;
    let mut p = Problems::default();
    let volume_id = match body.get("volume_id") {
        None => {
            p.add("volume_id", "is required");
            None
        }
        Some(_) => p.uuid(&body, "volume_id"),
    };
    let parsed = CreateBody {
        volume_id: volume_id.unwrap_or_default(),
        name: p.text(&body, "name"),
        description: p.text(&body, "description"),
        container: p.text(&body, "container"),
        incremental: p.flag(&body, "incremental"),
        force: p.flag(&body, "force"),
        snapshot_id: p.uuid(&body, "snapshot_id"),
        metadata: p.metadata(&body),
    };
    p.finish()?;
    Ok(parsed)
}

/// Validate the restore body (optional as a whole).
pub fn restore_body(req: &Request) -> Result<RestoreBody, ApiError> {
    let body = object(req)?;
    let mut p = Problems::default();
    let parsed = RestoreBody {
        volume_id: p.uuid(&body, "volume_id"),
        name: p.text(&body, "name"),
    };
    p.finish()?;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::request;
    use serde_json::json;

    const VOL: &str = "550e8400-e29b-41d4-a716-446655440000";

    fn with_body(body: &str) -> Request {
        let mut r = request("createBackup", "/v1/backups");
        r.body = body.as_bytes().to_vec();
        r
    }

    fn details(result: Result<CreateBody, ApiError>) -> String {
        let e = result.expect_err("refused");
        assert_eq!((e.status, e.message), (400, "Invalid request parameters"));
        e.details
    }

    #[test]
    fn uuids() {
        assert!(is_uuid(VOL));
        assert!(is_uuid("550E8400-E29B-41D4-A716-446655440000"));
        assert_eq!(
            uuid("550E8400-E29B-41D4-A716-44665544000A").as_deref(),
            Some("550e8400-e29b-41d4-a716-44665544000a")
        );
        for bad in [
            "",
            "550e8400e29b41d4a716446655440000",
            "550e8400-e29b-41d4-a716-44665544000",
            "550e8400-e29b-41d4-a716-4466554400000",
            "550e8400-e29b-41d4-a716-44665544000g",
            "550e8400-e29b-41d4-a716-446655440000-",
            "{550e8400-e29b-41d4-a716-446655440000}",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }

    #[test]
    fn the_seed_example_is_valid() {
        let body = json!({
            "volume_id": VOL,
            "name": "backup-2024-01-15",
            "description": "string",
            "container": "string",
            "incremental": false,
            "force": false,
            "snapshot_id": VOL,
            "metadata": { "environment": "production", "team": "backend" },
        });
        let parsed = create_body(&with_body(&body.to_string())).expect("valid");
        assert_eq!(parsed.volume_id, VOL);
        assert_eq!(parsed.name.as_deref(), Some("backup-2024-01-15"));
        assert_eq!(parsed.description.as_deref(), Some("string"));
        assert_eq!(parsed.container.as_deref(), Some("string"));
        assert!(!parsed.incremental && !parsed.force);
        assert_eq!(parsed.snapshot_id.as_deref(), Some(VOL));
        assert_eq!(
            Value::Object(parsed.metadata),
            json!({ "environment": "production", "team": "backend" })
        );
    }

    #[test]
    fn minimal_and_lenient_bodies() {
        let parsed = create_body(&with_body(&format!(
            r#"{{"volume_id":"{}","incremental":true,"unknown":{{"x":1}}}}"#,
            VOL.to_uppercase()
        )))
        .expect("valid");
        assert_eq!(parsed.volume_id, VOL, "lower-cased");
        assert_eq!(parsed.name, None);
        assert!(parsed.incremental);
        assert!(parsed.metadata.is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(
            details(create_body(&with_body(""))),
            "Field 'volume_id' is required"
        );
        assert_eq!(
            details(create_body(&with_body(r#"{"volume_id":null}"#))),
            "Field 'volume_id' must not be null"
        );
        // No field is nullable: null is refused wherever it is given.
        assert_eq!(
            details(create_body(&with_body(
                &json!({
                    "volume_id": VOL, "name": null, "description": null, "container": null,
                    "incremental": null, "force": null, "snapshot_id": null, "metadata": null,
                })
                .to_string()
            ))),
            "Field 'name' must not be null; Field 'description' must not be null; \
             Field 'container' must not be null; Field 'incremental' must not be null; \
             Field 'force' must not be null; Field 'snapshot_id' must not be null; \
             Field 'metadata' must not be null"
        );
        assert_eq!(
            details(create_body(&with_body(r#"{"volume_id":"vol-1"}"#))),
            "Field 'volume_id' must be a UUID"
        );
        assert_eq!(
            details(create_body(&with_body(r#"{"volume_id":42}"#))),
            "Field 'volume_id' must be a UUID string"
        );
        let all = details(create_body(&with_body(
            &json!({
                "volume_id": VOL,
                "name": 5,
                "description": "d".repeat(256),
                "container": [],
                "incremental": "yes",
                "force": 1,
                "snapshot_id": "snap",
                "metadata": { "a": 1, "b": "x".repeat(256) },
            })
            .to_string(),
        )));
        assert_eq!(
            all,
            "Field 'name' must be a string; \
             Field 'description' must be at most 255 characters; \
             Field 'container' must be a string; \
             Field 'incremental' must be a boolean; \
             Field 'force' must be a boolean; \
             Field 'snapshot_id' must be a UUID; \
             Field 'metadata.a' must be a string; \
             Field 'metadata.b' must be at most 255 characters"
        );
        assert_eq!(
            details(create_body(&with_body(
                &json!({ "volume_id": VOL, "metadata": ["x"] }).to_string()
            ))),
            "Field 'metadata' must be an object"
        );
        assert_eq!(
            details(create_body(&with_body(
                &json!({ "volume_id": VOL, "metadata": { "": "x" } }).to_string()
            ))),
            "Field 'metadata' keys must be 1 to 255 characters"
        );
        // 255 characters (not bytes) are fine.
        let long = "é".repeat(255);
        assert!(
            create_body(&with_body(
                &json!({ "volume_id": VOL, "name": long }).to_string()
            ))
            .is_ok()
        );
    }

    #[test]
    fn bodies_that_are_not_json_objects() {
        assert_eq!(
            details(create_body(&with_body("[1]"))),
            "The request body must be a JSON object."
        );
        let malformed = details(create_body(&with_body("{\"volume_id\":")));
        assert!(
            malformed.starts_with("The request body is not valid JSON: EOF while parsing"),
            "{malformed}"
        );
    }

    #[test]
    fn restore_bodies() {
        let mut r = request("restoreBackup", "/v1/backups/x/restore");
        assert_eq!(restore_body(&r).expect("empty"), RestoreBody::default());
        r.body = br#"{"name":"copy"}"#.to_vec();
        assert_eq!(
            restore_body(&r).expect("valid"),
            RestoreBody {
                volume_id: None,
                name: Some("copy".into())
            }
        );
        r.body = br#"{"volume_id":null,"name":null}"#.to_vec();
        assert_eq!(
            restore_body(&r).expect_err("null").details,
            "Field 'volume_id' must not be null; Field 'name' must not be null"
        );
        r.body = format!(r#"{{"volume_id":"{VOL}"}}"#).into_bytes();
        assert_eq!(
            restore_body(&r).expect("valid").volume_id.as_deref(),
            Some(VOL)
        );
        r.body = br#"{"volume_id":"nope","name":false}"#.to_vec();
        let e = restore_body(&r).expect_err("invalid");
        assert_eq!(
            e.details,
            "Field 'volume_id' must be a UUID; Field 'name' must be a string"
        );
        r.body = b"\"x\"".to_vec();
        assert_eq!(
            restore_body(&r).expect_err("invalid").details,
            "The request body must be a JSON object."
        );
    }
}
