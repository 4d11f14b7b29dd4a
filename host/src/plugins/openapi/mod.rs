//! A plugin's OpenAPI document (`manifest.openapi`), read the one way both its users need:
//! `backup-gateway check` (does the document agree with the manifest, and is it a document
//! at all) and the harness's strict mode (does every response fit what the document says).
//!
//! - [`OpenApi::parse`] reads an OpenAPI 3.0 or 3.1 document and compiles the schema of every
//!   response it documents with a JSON Schema validator (`boon`): 3.1 schemas as JSON Schema
//!   2020-12, 3.0 schemas as draft 4 (the dialect 3.0 extends) with `nullable: true` read as
//!   "or null". Formats (`date-time`, `uuid`, …) are asserted; `$ref` may point anywhere in
//!   the document, never outside it (nothing is loaded from disk or the network). A schema
//!   that does not compile is kept as a finding ([`OpenApi::problems`]), not a parse error.
//! - [`OpenApi::response`] finds the response the document gives for a status: on the
//!   operation (exact code, then `4XX`-style range, then `default`), else on any operation.
//! - [`OpenApi::check_response`] compares a response (media type, body) with it.
//! - [`OpenApi::agreement`] lists where the manifest's routes and the document's operations
//!   disagree (paths, methods, operation ids); [`Document::of`] is everything `check` and
//!   the strict mode report about a manifest's document itself.
//! - [`judge`] judges an observed response (a scenario step's, or a render-problem probe's
//!   from [`crate::plugins::problems`]) by the document, and says each finding once.

use std::collections::BTreeMap;

use serde_json::Value;

use super::manifest::{PluginManifest, RouteSpec};

pub mod judge;
mod schema;

use schema::{
    NothingOutside, escape_token, is_json, media_entry, nullable_to_null, percent_encode,
    status_keys, violations,
};

/// Where the document lives for the validator: a name only, never fetched.
const BASE: &str = "https://openapi.invalid/document.json";

/// HTTP methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// At most this many schema violations are reported per response.
const MAX_VIOLATIONS: usize = 8;

/// Why a document cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Not JSON.
    #[error("the OpenAPI document is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// No `openapi` field of a version this module reads.
    #[error("the OpenAPI document's `openapi` field is {0}; 3.0.x and 3.1.x are supported")]
    Version(String),
    /// No `paths` object.
    #[error("the OpenAPI document has no `paths` object")]
    NoPaths,
}

/// The JSON Schema dialect of the document's schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// OpenAPI 3.0: draft 4 plus `nullable`.
    OpenApi30,
    /// OpenAPI 3.1: JSON Schema 2020-12.
    OpenApi31,
}

/// A parsed OpenAPI document with its response schemas compiled.
pub struct OpenApi {
    doc: Value,
    schemas: boon::Schemas,
    /// Compiled schemas by the JSON pointer of their location in the document.
    compiled: BTreeMap<String, boon::SchemaIndex>,
    problems: Vec<String>,
}

impl std::fmt::Debug for OpenApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenApi")
            .field("schemas", &self.compiled.len())
            .field("problems", &self.problems)
            .finish()
    }
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

/// A response object the document gives for a status.
#[derive(Debug, Clone)]
pub struct Documented<'a> {
    /// Where, for messages: `GET /a/{id} responses.404`.
    pub at: String,
    response: &'a Value,
    /// JSON pointer of the (resolved) response object.
    pointer: String,
}

/// Where the document describes a status, if anywhere.
#[derive(Debug, Clone)]
pub enum Lookup<'a> {
    /// On the request's own operation (exact code, range or `default`).
    Operation(Documented<'a>),
    /// Not on the operation (or there is none), but on another one.
    Elsewhere(Documented<'a>),
    /// Nowhere in the document.
    Nowhere,
}

impl OpenApi {
    /// Parse a document and compile its response schemas.
    pub fn parse(text: &str) -> Result<OpenApi, DocumentError> {
        let doc: Value = serde_json::from_str(text)?;
        let dialect = match doc.get("openapi").and_then(Value::as_str) {
            Some(v) if v.starts_with("3.0.") || v == "3.0" => Dialect::OpenApi30,
            Some(v) if v.starts_with("3.1.") || v == "3.1" => Dialect::OpenApi31,
            Some(v) => return Err(DocumentError::Version(format!("{v:?}"))),
            None => return Err(DocumentError::Version("missing".into())),
        };
        if !doc.get("paths").is_some_and(Value::is_object) {
            return Err(DocumentError::NoPaths);
        }
        let mut api = OpenApi {
            doc,
            schemas: boon::Schemas::new(),
            compiled: BTreeMap::new(),
            problems: Vec::new(),
        };
        api.compile_all(dialect);
        Ok(api)
    }

    /// What is wrong inside the document: references that do not resolve, schemas that do
    /// not compile. Each is a finding of `check` and of the strict mode, and names the OpenAPI
    /// document once (`OpenAPI GET /x responses.200 application/json: …`).
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Every operation, in document order.
    pub fn operations(&self) -> Vec<Operation> {
        self.operation_items()
            .into_iter()
            .map(|(path, method, op)| Operation {
                path: path.to_string(),
                method: method.to_ascii_uppercase(),
                operation_id: op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
            .collect()
    }

    /// The response the document gives for `status` on `method` `template` (the route's
    /// template, `None` when the request reached no route): the operation's exact code, its
    /// range (`4XX`) or its `default`; else the first operation documenting the exact code,
    /// then the range, then a `default`.
    pub fn response(&self, method: &str, template: Option<&str>, status: u16) -> Lookup<'_> {
        let keys = status_keys(status);
        if let Some(t) = template
            && let Some(found) = self.on_operation(t, &method.to_ascii_lowercase(), &keys)
        {
            return Lookup::Operation(found);
        }
        for key in &keys {
            for (path, m, _) in self.operation_items() {
                if let Some(found) = self.on_operation(path, m, std::slice::from_ref(key)) {
                    return Lookup::Elsewhere(found);
                }
            }
        }
        Lookup::Nowhere
    }

    /// What is wrong with a response (media type without parameters, lower-case; body)
    /// against what the document gives for it. Empty when it fits. The messages do not say
    /// where the response is documented (`documented.at`), so the same violation on several
    /// statuses or routes reads the same and is said once ([`judge::Findings::grouped`]).
    pub fn check_response(
        &self,
        documented: &Documented<'_>,
        media_type: Option<&str>,
        body: &[u8],
    ) -> Vec<String> {
        let content = documented
            .response
            .get("content")
            .and_then(Value::as_object)
            .filter(|c| !c.is_empty());
        let Some(content) = content else {
            return if body.is_empty() {
                Vec::new()
            } else {
                vec![format!(
                    "the document gives no body, the response has {} bytes of {}",
                    body.len(),
                    media_type.unwrap_or("no content-type")
                )]
            };
        };
        let listed = || content.keys().cloned().collect::<Vec<_>>().join(", ");
        let Some(media_type) = media_type else {
            return vec![if body.is_empty() {
                format!(
                    "the document gives a body ({}), the response has none",
                    listed()
                )
            } else {
                format!(
                    "the response has no content-type; the document lists {}",
                    listed()
                )
            }];
        };
        let Some((key, entry)) = media_entry(content, media_type) else {
            return vec![format!(
                "answered with {media_type}, but the document lists {}",
                listed()
            )];
        };
        let pointer = format!(
            "{}/content/{}/schema",
            documented.pointer,
            escape_token(key)
        );
        match (entry.get("schema"), self.compiled.get(&pointer)) {
            (Some(_), Some(index)) => self.validate_body(*index, media_type, body),
            // A schema that did not compile is reported once, by `problems`.
            _ => Vec::new(),
        }
    }

    /// Where the manifest's routes and the document's operations disagree on paths, methods
    /// and operation ids.
    pub fn agreement(&self, routes: &[RouteSpec]) -> Vec<String> {
        let doc: BTreeMap<(String, String), Option<String>> = self
            .operations()
            .into_iter()
            .map(|o| ((o.method, o.path), o.operation_id))
            .collect();
        let declared: BTreeMap<(String, String), &str> = routes
            .iter()
            .map(|r| {
                (
                    (r.method.as_str().to_string(), r.template.clone()),
                    r.operation.as_str(),
                )
            })
            .collect();
        let mut out = Vec::new();
        for ((method, path), op) in &declared {
            match doc.get(&(method.clone(), path.clone())) {
                None => out.push(format!(
                    "manifest route {method} {path} ({op}) is not in the OpenAPI document"
                )),
                Some(None) => out.push(format!(
                    "OpenAPI {method} {path} has no operationId; the manifest says {op:?}"
                )),
                Some(Some(id)) if id != op => out.push(format!(
                    "{method} {path}: the manifest's operation is {op:?}, the OpenAPI operationId is {id:?}"
                )),
                Some(Some(_)) => {}
            }
        }
        for ((method, path), id) in &doc {
            if !declared.contains_key(&(method.clone(), path.clone())) {
                out.push(format!(
                    "OpenAPI operation {method} {path} ({}) is not a manifest route",
                    id.as_deref().unwrap_or("no operationId")
                ));
            }
        }
        out
    }

    /// `(path, lower-case method, operation object)` of every operation, in document order.
    fn operation_items(&self) -> Vec<(&str, &'static str, &Value)> {
        let mut out = Vec::new();
        let Some(paths) = self.doc.get("paths").and_then(Value::as_object) else {
            return out;
        };
        for (path, item) in paths {
            let Some((_, item)) = self.resolve(&format!("/paths/{}", escape_token(path)), item)
            else {
                continue;
            };
            for m in METHODS {
                if let Some(op) = item.get(m) {
                    out.push((path.as_str(), m, op));
                }
            }
        }
        out
    }

    /// The first of `keys` an operation's `responses` holds.
    fn on_operation(&self, path: &str, method: &str, keys: &[String]) -> Option<Documented<'_>> {
        let item_ptr = format!("/paths/{}", escape_token(path));
        let (item_ptr, item) = self.resolve(&item_ptr, self.doc.pointer(&item_ptr)?)?;
        let responses = item.get(method)?.get("responses")?;
        keys.iter().find_map(|key| {
            let ptr = format!("{item_ptr}/{method}/responses/{}", escape_token(key));
            let (pointer, response) = self.resolve(&ptr, responses.get(key)?)?;
            Some(Documented {
                at: format!("{} {path} responses.{key}", method.to_ascii_uppercase()),
                response,
                pointer,
            })
        })
    }

    /// Follow `$ref` (local `#/…` references only) from `value` found at `pointer`: the final
    /// pointer and value, `None` when a reference does not resolve (or loops).
    fn resolve<'a>(&'a self, pointer: &str, value: &'a Value) -> Option<(String, &'a Value)> {
        let (mut pointer, mut value) = (pointer.to_string(), value);
        for _ in 0..32 {
            let Some(r) = value.get("$ref").and_then(Value::as_str) else {
                return Some((pointer, value));
            };
            let target = r.strip_prefix('#')?;
            value = self.doc.pointer(target)?;
            pointer = target.to_string();
        }
        None
    }

    /// Compile the schema of every response of every operation.
    fn compile_all(&mut self, dialect: Dialect) {
        let mut compiler = boon::Compiler::new();
        compiler.use_loader(Box::new(NothingOutside));
        compiler.enable_format_assertions();
        let mut doc = self.doc.clone();
        match dialect {
            Dialect::OpenApi30 => {
                compiler.set_default_draft(boon::Draft::V4);
                nullable_to_null(&mut doc);
            }
            Dialect::OpenApi31 => compiler.set_default_draft(boon::Draft::V2020_12),
        }
        if let Err(e) = compiler.add_resource(BASE, doc) {
            self.problems
                .push(format!("the OpenAPI document cannot be read: {e}"));
            return;
        }
        let mut schemas = boon::Schemas::new();
        for (at, pointer) in self.schema_locations() {
            match pointer {
                Err(problem) => self.problems.push(format!("OpenAPI {at}: {problem}")),
                Ok(pointer) if self.compiled.contains_key(&pointer) => {}
                Ok(pointer) => {
                    let url = format!("{BASE}#{}", percent_encode(&pointer));
                    match compiler.compile(&url, &mut schemas) {
                        Ok(index) => {
                            self.compiled.insert(pointer, index);
                        }
                        Err(e) => self.problems.push(format!(
                            "OpenAPI {at}: the schema does not compile: {}",
                            e.to_string().replace(BASE, "")
                        )),
                    }
                }
            }
        }
        self.schemas = schemas;
    }

    /// `(where, pointer of the schema or why there is none)` for every response schema.
    fn schema_locations(&self) -> Vec<(String, Result<String, String>)> {
        let mut out = Vec::new();
        for (path, method, op) in self.operation_items() {
            let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for key in responses.keys() {
                let at = format!("{} {path} responses.{key}", method.to_ascii_uppercase());
                let Some(found) = self.on_operation(path, method, std::slice::from_ref(key)) else {
                    out.push((at, Err("its $ref does not resolve".into())));
                    continue;
                };
                let Some(content) = found.response.get("content").and_then(Value::as_object) else {
                    continue;
                };
                for (media, entry) in content {
                    if entry.get("schema").is_some() {
                        let ptr =
                            format!("{}/content/{}/schema", found.pointer, escape_token(media));
                        out.push((format!("{at} {media}"), Ok(ptr)));
                    }
                }
            }
        }
        out
    }

    fn validate_body(
        &self,
        index: boon::SchemaIndex,
        media_type: &str,
        body: &[u8],
    ) -> Vec<String> {
        let value = if is_json(media_type) {
            match serde_json::from_slice::<Value>(body) {
                Ok(v) => v,
                Err(e) => return vec![format!("the body is not the JSON {media_type} says: {e}")],
            }
        } else if media_type.starts_with("text/") {
            match std::str::from_utf8(body) {
                Ok(text) => Value::String(text.to_string()),
                Err(_) => return vec![format!("the body is not the UTF-8 {media_type} says")],
            }
        } else {
            // Bytes (`format: binary`): nothing a JSON schema can say about them.
            return Vec::new();
        };
        if !self.schemas.contains(index) {
            return Vec::new();
        }
        match self.schemas.validate(&value, index) {
            Ok(()) => Vec::new(),
            Err(e) => {
                let mut leaves = Vec::new();
                violations(&e, &mut leaves);
                leaves.dedup();
                let more = leaves.len().saturating_sub(MAX_VIOLATIONS);
                let mut out: Vec<String> = leaves
                    .into_iter()
                    .take(MAX_VIOLATIONS)
                    .map(|l| format!("does not fit the schema: {l}"))
                    .collect();
                if more > 0 {
                    out.push(format!(
                        "does not fit the schema: … and {more} more violation(s)"
                    ));
                }
                out
            }
        }
    }
}

/// Where an author fixes the document, for messages. The manifest carries the document as a
/// string, so neither `check` nor the harness can know the file it was read from; the
/// template keeps it in `src/openapi.json` (`include_str!`).
pub const SOURCE: &str = "manifest.openapi, src/openapi.json in the template";

/// A manifest's document as `check` and the strict mode both read it.
#[derive(Debug)]
pub struct Document {
    /// The document, when it parses.
    pub api: Option<OpenApi>,
    /// What is wrong with it: why it does not parse, or its [`OpenApi::problems`] and where it
    /// disagrees with the manifest's routes ([`OpenApi::agreement`]). Each names the OpenAPI
    /// document once.
    pub findings: Vec<String>,
}

impl Document {
    /// The manifest's document; `None` when the plugin ships none.
    pub fn of(manifest: &PluginManifest) -> Option<Document> {
        let text = manifest.openapi.as_deref()?;
        Some(match OpenApi::parse(text) {
            Err(e) => Document {
                api: None,
                findings: vec![e.to_string()],
            },
            Ok(api) => {
                let mut findings: Vec<String> = api.problems().to_vec();
                findings.extend(api.agreement(&manifest.routes));
                Document {
                    api: Some(api),
                    findings,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
