//! The collection conventions every GET list shares — `fields`, `filter`, `sort` (query) and
//! `Range` (header) — and single-object answers with `fields`.
//!
//! QRadar asks clients to URL-encode query values twice; the host decodes once, so `filter`,
//! `sort` and `fields` are percent-decoded once more here. That second pass is lenient (only
//! valid `%XX` sequences are decoded, and a result that is not UTF-8 is ignored), so clients
//! that encode once work too.
//!
//! A list is filtered, then sorted (default: by id), then paged, then projected.

use backup_gateway_sdk::{Request, Response};
use serde_json::Value;

use crate::errors::ApiError;
use crate::fields::{self, Field, Selected};
use crate::filter::{self, Expr};
use crate::paging::{self, ItemRange};
use crate::sort::{self, SortKey};

/// The parsed list parameters of a request.
#[derive(Debug)]
pub struct ListParams {
    /// `filter`.
    pub filter: Option<Expr>,
    /// `sort`.
    pub sort: Vec<SortKey>,
    /// `Range`.
    pub range: Option<ItemRange>,
    /// `fields`.
    pub fields: Option<Vec<Selected>>,
}

/// Parse a list request's parameters for objects with `schema`, sortable by `sortable`.
pub fn list_params(
    req: &Request,
    schema: &[Field],
    sortable: &[&str],
) -> Result<ListParams, ApiError> {
    let fields = query_fields(req, schema)?;
    let names: Vec<&str> = schema.iter().map(|f| f.name).collect();
    let filter = match req.query("filter").map(decode_again) {
        Some(text) if !text.trim().is_empty() => Some(
            filter::parse(&text, &names).map_err(|e| ApiError::invalid_parameter(e.message()))?,
        ),
        _ => None,
    };
    let sort = sort::parse(
        &decode_again(req.query("sort").unwrap_or_default()),
        sortable,
    )?;
    let range = paging::parse_range(req.header("range"))?;
    Ok(ListParams {
        filter,
        sort,
        range,
        fields,
    })
}

/// `fields` from the query string (GET, DELETE).
pub fn query_fields(req: &Request, schema: &[Field]) -> Result<Option<Vec<Selected>>, ApiError> {
    fields::parse(
        &decode_again(req.query("fields").unwrap_or_default()),
        schema,
    )
}

/// `fields` from the headers (POST).
pub fn header_fields(req: &Request, schema: &[Field]) -> Result<Option<Vec<Selected>>, ApiError> {
    fields::parse(
        &decode_again(req.header("fields").unwrap_or_default()),
        schema,
    )
}

/// The 200 answer to a list: filtered, sorted, paged, projected, with `Content-Range`.
pub fn respond_list(mut items: Vec<Value>, params: &ListParams) -> Response {
    if let Some(expr) = &params.filter {
        items.retain(|item| filter::matches(expr, item));
    }
    sort::sort(&mut items, &params.sort);
    let (page, content_range) = paging::page(items, params.range);
    let body: Vec<Value> = page
        .iter()
        .map(|item| project(item, params.fields.as_deref()))
        .collect();
    Response::json(200, &Value::Array(body)).with_header("content-range", content_range)
}

/// One object, projected.
pub fn respond_one(status: u16, object: &Value, fields: Option<&[Selected]>) -> Response {
    Response::json(status, &project(object, fields))
}

fn project(object: &Value, fields: Option<&[Selected]>) -> Value {
    match fields {
        Some(selection) => fields::project(object, selection),
        None => object.clone(),
    }
}

/// Percent-decode valid `%XX` sequences once more; the text unchanged when there are none or
/// the result is not UTF-8.
pub fn decode_again(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::request;
    use serde_json::json;

    const SCHEMA: &[Field] = &[
        Field::scalar("id"),
        Field::scalar("name"),
        Field::scalar("size"),
    ];
    const SORTABLE: &[&str] = &["id", "name"];

    fn items() -> Vec<Value> {
        (1..=5u64)
            .map(|id| json!({"id": id, "name": format!("n{}", 6 - id), "size": id * 10}))
            .collect()
    }

    fn list(query: &[(&str, &str)], range: Option<&str>) -> Result<Response, ApiError> {
        let mut req = request("listBackups");
        req.query = query
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        if let Some(r) = range {
            req.headers.push(("range".into(), r.into()));
        }
        let params = list_params(&req, SCHEMA, SORTABLE)?;
        Ok(respond_list(items(), &params))
    }

    #[test]
    fn filter_sort_range_fields_compose() {
        let resp = list(
            &[
                ("filter", "size >= 20"),
                ("sort", "-name"),
                ("fields", "id,name"),
            ],
            Some("items=1-2"),
        )
        .expect("200");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-range"), Some("items 1-2/4"));
        assert_eq!(
            resp.body_json(),
            Some(json!([{"id": 3, "name": "n3"}, {"id": 4, "name": "n2"}]))
        );
    }

    #[test]
    fn double_encoded_values_are_decoded() {
        let resp = list(&[("filter", "name%20%3D%20n1"), ("sort", "%2Bid")], None).expect("200");
        assert_eq!(resp.header("content-range"), Some("items 0-0/1"));
        assert_eq!(resp.body_json().expect("json")[0]["id"], 5);
    }

    #[test]
    fn parameter_errors() {
        let e = list(&[("filter", "size >")], None).expect_err("filter");
        assert_eq!((e.status, e.code), (422, 11));
        assert!(
            e.message.starts_with("Invalid filter: expected a value"),
            "{}",
            e.message
        );
        let e = list(&[("sort", "size")], None).expect_err("sort");
        assert_eq!((e.status, e.code), (422, 1018));
        let e = list(&[("fields", "nope")], None).expect_err("fields");
        assert_eq!((e.status, e.code), (422, 30));
        let e = list(&[], Some("items=9-1")).expect_err("range");
        assert_eq!((e.status, e.code), (422, 11));
        // Blank parameters are no parameters.
        let resp = list(&[("filter", " "), ("sort", ""), ("fields", "")], None).expect("200");
        assert_eq!(resp.header("content-range"), Some("items 0-4/5"));
    }

    #[test]
    fn decoding_again_is_lenient() {
        assert_eq!(decode_again("a%3Db"), "a=b");
        assert_eq!(decode_again("100%"), "100%");
        assert_eq!(decode_again("%zz%4"), "%zz%4");
        assert_eq!(decode_again("%C3%A9"), "é");
        assert_eq!(decode_again("%FF"), "%FF");
        assert_eq!(decode_again("plain"), "plain");
    }

    #[test]
    fn single_objects_are_projected() {
        let resp = respond_one(201, &json!({"id": 1, "name": "x"}), None);
        assert_eq!(resp.body_json(), Some(json!({"id": 1, "name": "x"})));
        let sel = fields::parse("name", SCHEMA).expect("ok");
        let resp = respond_one(200, &json!({"id": 1, "name": "x"}), sel.as_deref());
        assert_eq!(resp.body_json(), Some(json!({"name": "x"})));
    }
}
