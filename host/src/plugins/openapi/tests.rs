//! Documents of both dialects: lookups, body validation, media types, findings, agreement.

use super::*;
use serde_json::json;

fn doc(version: &str) -> OpenApi {
    OpenApi::parse(
        &json!({
            "openapi": version,
            "paths": {
                "/a/{id}": {
                    "get": {
                        "operationId": "getA",
                        "responses": {
                            "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                            "404": {"$ref": "#/components/responses/Error"},
                            "default": {"$ref": "#/components/responses/Error"}
                        }
                    },
                    "delete": {"operationId": "deleteA", "responses": {"204": {"description": "gone"}, "401": {"$ref": "#/components/responses/Error"}}}
                }
            },
            "components": {
                "responses": {"Error": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
                "schemas": {
                    "Error": {"allOf": [
                        {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}},
                        {"properties": {"data": {"type": "object", "nullable": true}}}
                    ]},
                    "Thing": {"type": "object", "required": ["id", "at"], "properties": {
                        "id": {"type": "string"},
                        "at": {"type": "string", "format": "date-time"},
                        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}
                    }}
                }
            }
        })
        .to_string(),
    )
    .expect("the test document parses")
}

fn check(api: &OpenApi, method: &str, status: u16, media: Option<&str>, body: &str) -> Vec<String> {
    let (Lookup::Operation(d) | Lookup::Elsewhere(d)) =
        api.response(method, Some("/a/{id}"), status)
    else {
        panic!("{status} is documented");
    };
    api.check_response(&d, media, body.as_bytes())
}

#[test]
fn operations_and_lookups() {
    let api = doc("3.0.3");
    assert!(api.problems().is_empty(), "{:?}", api.problems());
    let ops = api.operations();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0].operation_id.as_deref(), Some("getA"));
    let at = |l: Lookup<'_>| match l {
        Lookup::Operation(d) => format!("op {}", d.at),
        Lookup::Elsewhere(d) => format!("elsewhere {}", d.at),
        Lookup::Nowhere => "nowhere".into(),
    };
    assert_eq!(
        at(api.response("GET", Some("/a/{id}"), 404)),
        "op GET /a/{id} responses.404"
    );
    // a status the operation documents only through `default`
    assert_eq!(
        at(api.response("GET", Some("/a/{id}"), 400)),
        "op GET /a/{id} responses.default"
    );
    // documented on another operation only
    assert_eq!(
        at(api.response("DELETE", Some("/a/{id}"), 404)),
        "elsewhere GET /a/{id} responses.404"
    );
    // no route: any operation's exact code, then a default
    assert_eq!(
        at(api.response("GET", None, 401)),
        "elsewhere DELETE /a/{id} responses.401"
    );
    assert_eq!(
        at(api.response("GET", None, 429)),
        "elsewhere GET /a/{id} responses.default"
    );
    let bare = OpenApi::parse(r#"{"openapi": "3.1.0", "paths": {}}"#).expect("parses");
    assert!(matches!(bare.response("GET", None, 404), Lookup::Nowhere));
}

#[test]
fn bodies_are_validated_against_the_full_schema() {
    for version in ["3.0.3", "3.1.0"] {
        let api = doc(version);
        let ok = r#"{"id": "x", "at": "2026-04-12T02:15:00Z", "tags": ["a"]}"#;
        assert_eq!(
            check(&api, "GET", 200, Some("application/json"), ok),
            Vec::<String>::new()
        );
        let bad = r#"{"at": "yesterday", "tags": ["c"]}"#;
        let found = check(&api, "GET", 200, Some("application/json"), bad).join("\n");
        for needle in [
            "body: missing properties 'id'",
            "body/at: ",
            "is not valid date-time",
            "body/tags/0: value must be one of",
        ] {
            assert!(found.contains(needle), "{needle:?} not in {found}");
        }
        // an error through `default`, nested types checked
        let found = check(
            &api,
            "GET",
            400,
            Some("application/json"),
            r#"{"code": "400"}"#,
        )
        .join("\n");
        assert!(
            found.contains("body: missing properties 'message'"),
            "{found}"
        );
        assert!(
            found.contains("body/code: want integer, but got string"),
            "{found}"
        );
    }
    // 3.0 `nullable`
    let api = doc("3.0.3");
    let null_data = r#"{"code": 404, "message": "x", "data": null}"#;
    assert!(check(&api, "GET", 404, Some("application/json"), null_data).is_empty());
}

#[test]
fn media_types_and_bodies_must_be_the_documented_ones() {
    let api = doc("3.1.0");
    let found = check(&api, "GET", 404, Some("text/html"), "<p>");
    assert_eq!(
        found,
        ["answered with text/html, but the document lists application/json"]
    );
    let found = check(&api, "GET", 404, Some("application/json"), "{not json");
    assert!(
        found[0].starts_with("the body is not the JSON application/json says"),
        "{found:?}"
    );
    let found = check(&api, "GET", 404, None, "");
    assert_eq!(
        found,
        ["the document gives a body (application/json), the response has none"]
    );
    assert!(check(&api, "DELETE", 204, None, "").is_empty());
    let found = check(&api, "DELETE", 204, Some("application/json"), "{}");
    assert_eq!(
        found,
        ["the document gives no body, the response has 2 bytes of application/json"]
    );
}

#[test]
fn unreadable_documents_and_schemas_are_findings() {
    assert!(matches!(
        OpenApi::parse("{"),
        Err(DocumentError::NotJson(_))
    ));
    assert!(matches!(
        OpenApi::parse(r#"{"swagger": "2.0", "paths": {}}"#),
        Err(DocumentError::Version(_))
    ));
    assert!(matches!(
        OpenApi::parse(r#"{"openapi": "3.0.0"}"#),
        Err(DocumentError::NoPaths)
    ));
    let api = OpenApi::parse(
        &json!({"openapi": "3.1.0", "paths": {"/x": {"get": {"responses": {
            "200": {"content": {"application/json": {"schema": {"type": 5}}}},
            "400": {"$ref": "#/components/responses/Missing"},
            "500": {"content": {"application/json": {"schema": {"$ref": "other.json#/Error"}}}}
        }}}}})
        .to_string(),
    )
    .expect("parses");
    let problems = api.problems().join("\n");
    assert!(
        problems.contains("GET /x responses.200 application/json: the schema does not compile"),
        "{problems}"
    );
    assert!(
        problems.contains("GET /x responses.400: its $ref does not resolve"),
        "{problems}"
    );
    assert!(
        problems.contains("GET /x responses.500 application/json: the schema does not compile"),
        "{problems}"
    );
}

#[test]
fn nullable_becomes_null() {
    let mut v = json!({"a": {"type": "string", "nullable": true, "enum": ["x"]}, "b": {"nullable": true, "$ref": "#/c"}, "c": {"nullable": false, "type": "integer"}});
    nullable_to_null(&mut v);
    assert_eq!(
        v,
        json!({"a": {"type": ["string", "null"], "enum": ["x", null]}, "b": {"anyOf": [{"type": "null"}, {"$ref": "#/c"}]}, "c": {"type": "integer"}})
    );
}

fn route(method: http::Method, template: &str, operation: &str) -> RouteSpec {
    RouteSpec {
        method,
        template: template.into(),
        segments: Vec::new(),
        operation: operation.into(),
        authenticated: true,
        scope: None,
        body: super::super::BodyMode::None,
        rate_classes: Vec::new(),
    }
}

#[test]
fn manifest_and_document_agreement() {
    let api = OpenApi::parse(
        r#"{"openapi": "3.1.0", "paths": {"/a": {"get": {"operationId": "listA"}, "post": {"operationId": "makeA"}}, "/b": {"get": {}}}}"#,
    )
    .expect("parses");
    let routes = [
        route(http::Method::GET, "/a", "listA"),
        route(http::Method::POST, "/a", "createA"),
        route(http::Method::GET, "/b", "getB"),
        route(http::Method::GET, "/c", "c"),
    ];
    assert_eq!(
        api.agreement(&routes),
        [
            "OpenAPI GET /b has no operationId; the manifest says \"getB\"",
            "manifest route GET /c (c) is not in the OpenAPI document",
            "POST /a: the manifest's operation is \"createA\", the OpenAPI operationId is \"makeA\"",
        ]
    );
    assert_eq!(
        api.agreement(&routes[..1]),
        [
            "OpenAPI operation GET /b (no operationId) is not a manifest route",
            "OpenAPI operation POST /a (makeA) is not a manifest route",
        ]
    );
}

#[test]
fn the_document_is_shareable_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<OpenApi>();
}
