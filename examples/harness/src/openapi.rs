//! Just enough OpenAPI 3 for conformance checks: the operations a document declares, the
//! response it documents for a status, and a shallow schema check (the body's type, the
//! schema's required top-level properties and the types of the top-level properties it
//! declares, through `$ref`, `allOf`, `oneOf` and `anyOf`).
//!
//! This is deliberately not a JSON Schema validator: nested objects, formats, enums and
//! patterns are the scenario's business (`expect.json`), not the conformance mode's.

use serde_json::Value;

/// A parsed OpenAPI document.
#[derive(Debug, Clone)]
pub struct OpenApi {
    doc: Value,
}

/// One operation of the document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Operation {
    /// Path template, as written (`/backup/{siteId}`).
    pub path: String,
    /// Method, upper-case.
    pub method: String,
    /// `operationId`, when given.
    pub operation_id: Option<String>,
}

/// HTTP methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl OpenApi {
    /// Parse the manifest's document.
    pub fn parse(text: &str) -> Result<OpenApi, String> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| format!("the OpenAPI document is not JSON: {e}"))?;
        if !doc.get("paths").is_some_and(Value::is_object) {
            return Err("the OpenAPI document has no `paths` object".into());
        }
        Ok(OpenApi { doc })
    }

    /// Follow `$ref` (local `#/…` references only) until a value without one.
    pub fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                return v;
            };
            match r.strip_prefix('#').and_then(|p| self.doc.pointer(p)) {
                Some(target) => v = target,
                None => return &Value::Null,
            }
        }
        v
    }

    /// Every operation, in document order.
    pub fn operations(&self) -> Vec<Operation> {
        let mut out = Vec::new();
        let Some(paths) = self.doc.get("paths").and_then(Value::as_object) else {
            return out;
        };
        for (path, item) in paths {
            let item = self.resolve(item);
            for m in METHODS {
                if let Some(op) = item.get(m) {
                    out.push(Operation {
                        path: path.clone(),
                        method: m.to_ascii_uppercase(),
                        operation_id: op
                            .get("operationId")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    });
                }
            }
        }
        out
    }

    /// The response documented for `status`: on the operation (`method`, `path` template)
    /// when it documents that status (or `4XX`/`5XX`, or `default`), else the first operation
    /// of the document that documents that exact status. Returns the response object and
    /// where it was found.
    pub fn response(
        &self,
        method: &str,
        template: Option<&str>,
        status: u16,
    ) -> Option<(&Value, String)> {
        let code = status.to_string();
        let range = format!("{}XX", status / 100);
        if let Some(t) = template
            && let Some(op) = self
                .doc
                .pointer(&format!("/paths/{}", escape(t)))
                .map(|i| self.resolve(i))
                .and_then(|i| i.get(method.to_ascii_lowercase()))
        {
            for key in [code.as_str(), range.as_str(), "default"] {
                if let Some(r) = op.get("responses").and_then(|r| r.get(key)) {
                    return Some((
                        self.resolve(r),
                        format!("{} {t} responses.{key}", method.to_ascii_uppercase()),
                    ));
                }
            }
        }
        for op in self.operations() {
            let item = self.doc.pointer(&format!("/paths/{}", escape(&op.path)));
            if let Some(r) = item
                .map(|i| self.resolve(i))
                .and_then(|i| i.get(op.method.to_ascii_lowercase()))
                .and_then(|o| o.get("responses"))
                .and_then(|r| r.get(&code))
            {
                return Some((
                    self.resolve(r),
                    format!("{} {} responses.{code}", op.method, op.path),
                ));
            }
        }
        None
    }

    /// The media types a response object lists under `content`, and the schema for
    /// `media_type` (an exact entry, else a wildcard such as `application/*`).
    pub fn media<'a>(&'a self, response: &'a Value, media_type: &str) -> Media<'a> {
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return Media::Undocumented;
        };
        let listed: Vec<String> = content.keys().cloned().collect();
        let wildcard = |k: &str| {
            k == "*/*"
                || k.strip_suffix("/*")
                    .is_some_and(|main| media_type.split('/').next() == Some(main))
        };
        let entry = content
            .get(media_type)
            .or_else(|| content.iter().find(|(k, _)| wildcard(k)).map(|(_, v)| v));
        match entry {
            Some(e) => Media::Schema(e.get("schema").map(|s| self.resolve(s))),
            None => Media::Other(listed),
        }
    }

    /// Check `body` against `schema`, appending what is wrong (paths as `body/…`).
    pub fn check(&self, schema: &Value, body: &Value, out: &mut Vec<String>) {
        self.check_at(schema, body, "body", true, out);
    }

    fn check_at(&self, schema: &Value, v: &Value, at: &str, top: bool, out: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check_at(s, v, at, top, out);
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(alts) = schema.get(key).and_then(Value::as_array) {
                let fits = alts.iter().any(|s| {
                    let mut scratch = Vec::new();
                    self.check_at(s, v, at, top, &mut scratch);
                    scratch.is_empty()
                });
                if !fits {
                    out.push(format!("{at}: matches none of the {key} alternatives"));
                }
            }
        }
        if let Some(types) = declared_types(schema)
            && !(v.is_null() && nullable(schema))
            && !types.iter().any(|t| has_type(v, t))
        {
            out.push(format!(
                "{at}: expected {}, got {}",
                types.join(" or "),
                crate::matcher::show(v)
            ));
            return;
        }
        if !top {
            return;
        }
        let Some(obj) = v.as_object() else {
            return;
        };
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(key) {
                    out.push(format!("{at}/{key}: required by the schema, missing"));
                }
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (key, prop) in props {
                if let Some(value) = obj.get(key) {
                    self.check_at(prop, value, &format!("{at}/{key}"), false, out);
                }
            }
        }
    }
}

/// What a response documents for a media type.
#[derive(Debug)]
pub enum Media<'a> {
    /// No `content`: nothing to check.
    Undocumented,
    /// The media type is listed, with its schema if any.
    Schema(Option<&'a Value>),
    /// The media type is not listed; these are.
    Other(Vec<String>),
}

fn declared_types(schema: &Value) -> Option<Vec<String>> {
    match schema.get("type")? {
        Value::String(t) => Some(vec![t.clone()]),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        _ => None,
    }
}

fn nullable(schema: &Value) -> bool {
    schema.get("nullable") == Some(&Value::Bool(true))
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => true,
    }
}

/// One JSON pointer reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> OpenApi {
        OpenApi::parse(
            &json!({
                "openapi": "3.0.3",
                "paths": {
                    "/a/{id}": {
                        "get": {
                            "operationId": "getA",
                            "responses": {
                                "200": {"description": "ok"},
                                "404": {"$ref": "#/components/responses/NotFound"}
                            }
                        },
                        "delete": {"operationId": "deleteA", "responses": {"401": {"$ref": "#/components/responses/NotFound"}}}
                    }
                },
                "components": {
                    "responses": {"NotFound": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
                    "schemas": {"Error": {"allOf": [
                        {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "integer"}}},
                        {"properties": {"data": {"type": "object", "nullable": true}}}
                    ]}}
                }
            })
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn operations_and_responses() {
        let d = doc();
        let ops = d.operations();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].operation_id.as_deref(), Some("getA"));
        let (_, at) = d.response("GET", Some("/a/{id}"), 404).unwrap();
        assert_eq!(at, "GET /a/{id} responses.404");
        // documented elsewhere only
        let (_, at) = d.response("GET", Some("/a/{id}"), 401).unwrap();
        assert_eq!(at, "DELETE /a/{id} responses.401");
        assert!(d.response("GET", None, 429).is_none());
    }

    #[test]
    fn shallow_schema_check() {
        let d = doc();
        let (resp, _) = d.response("GET", Some("/a/{id}"), 404).unwrap();
        let Media::Schema(Some(schema)) = d.media(resp, "application/json") else {
            panic!("schema");
        };
        let mut out = Vec::new();
        d.check(
            schema,
            &json!({"code": 404, "message": "x", "data": null}),
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
        d.check(schema, &json!({"code": "404", "data": 1}), &mut out);
        assert_eq!(
            out,
            [
                "body/message: required by the schema, missing",
                "body/code: expected integer, got \"404\"",
                "body/data: expected object, got 1",
            ]
        );
        assert!(matches!(d.media(resp, "text/html"), Media::Other(_)));
    }
}
