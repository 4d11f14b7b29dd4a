//! QRadar's `fields` parameter: a comma-separated allow-list of fields, with subfields in
//! parentheses (`id,name,host(id,name)`); fields that are not named are left out. It is a
//! query parameter on GET and DELETE and a header on POST.
//!
//! Every named field must be one the endpoint's objects have (422/30 otherwise, with QRadar's
//! "Specified field … is not recognized" message); subfields may only be given for object
//! fields. Projection keeps the object's own field order.

use serde_json::{Map, Value};

use crate::errors::ApiError;

/// A field an endpoint's objects have; `sub` lists its subfields when it is an object (or an
/// array of objects), empty for scalars.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Its name.
    pub name: &'static str,
    /// Its subfields.
    pub sub: &'static [Field],
}

impl Field {
    /// A scalar (or scalar-array) field.
    pub const fn scalar(name: &'static str) -> Field {
        Field { name, sub: &[] }
    }
}

/// One selected field and its selected subfields (`None`: all of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The field.
    pub name: String,
    /// Its selected subfields.
    pub sub: Option<Vec<Selected>>,
}

/// Parse and check a `fields` value against an endpoint's fields. Blank means every field
/// (`Ok(None)`).
pub fn parse(text: &str, schema: &[Field]) -> Result<Option<Vec<Selected>>, ApiError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let selection = list(&chars, &mut i, 0).map_err(|()| ApiError::unknown_field(text.trim()))?;
    if i != chars.len() {
        return Err(ApiError::unknown_field(text.trim()));
    }
    check(&selection, schema)?;
    Ok(Some(selection))
}

/// Deepest subfield nesting accepted.
const MAX_DEPTH: usize = 8;

/// `item ( ',' item )*`, stopping before a `)` or the end.
fn list(chars: &[char], i: &mut usize, depth: usize) -> Result<Vec<Selected>, ()> {
    if depth > MAX_DEPTH {
        return Err(());
    }
    let mut items: Vec<Selected> = Vec::new();
    loop {
        skip_spaces(chars, i);
        let start = *i;
        while chars
            .get(*i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            *i += 1;
        }
        if *i == start {
            return Err(());
        }
        let name: String = chars[start..*i].iter().collect();
        skip_spaces(chars, i);
        let sub = if chars.get(*i) == Some(&'(') {
            *i += 1;
            let sub = list(chars, i, depth + 1)?;
            if chars.get(*i) != Some(&')') {
                return Err(());
            }
            *i += 1;
            skip_spaces(chars, i);
            Some(sub)
        } else {
            None
        };
        if !items.iter().any(|s| s.name == name) {
            items.push(Selected { name, sub });
        }
        match chars.get(*i) {
            Some(',') => *i += 1,
            _ => return Ok(items),
        }
    }
}

fn skip_spaces(chars: &[char], i: &mut usize) {
    while chars.get(*i).is_some_and(|c| c.is_whitespace()) {
        *i += 1;
    }
}

/// Every selected field exists, and subfields only on object fields.
fn check(selection: &[Selected], schema: &[Field]) -> Result<(), ApiError> {
    for selected in selection {
        let field = schema
            .iter()
            .find(|f| f.name == selected.name)
            .ok_or_else(|| ApiError::unknown_field(&selected.name))?;
        if let Some(sub) = &selected.sub {
            if field.sub.is_empty() {
                return Err(ApiError::unknown_field(&format!(
                    "{}({})",
                    selected.name,
                    names(sub)
                )));
            }
            check(sub, field.sub)?;
        }
    }
    Ok(())
}

/// A selection written back as text.
fn names(selection: &[Selected]) -> String {
    selection
        .iter()
        .map(|s| match &s.sub {
            Some(sub) => format!("{}({})", s.name, names(sub)),
            None => s.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Keep only the selected fields of `value` (objects; arrays element by element).
pub fn project(value: &Value, selection: &[Selected]) -> Value {
    match value {
        Value::Object(map) => {
            let kept: Map<String, Value> = map
                .iter()
                .filter_map(|(k, v)| {
                    let selected = selection.iter().find(|s| s.name == *k)?;
                    let v = match &selected.sub {
                        Some(sub) => project(v, sub),
                        None => v.clone(),
                    };
                    Some((k.clone(), v))
                })
                .collect();
            Value::Object(kept)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| project(v, selection)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOST: &[Field] = &[Field::scalar("id"), Field::scalar("name")];
    const SCHEMA: &[Field] = &[
        Field::scalar("id"),
        Field::scalar("name"),
        Field::scalar("groups"),
        Field {
            name: "host",
            sub: HOST,
        },
        Field {
            name: "hosts",
            sub: HOST,
        },
    ];

    fn sel(text: &str) -> Vec<Selected> {
        parse(text, SCHEMA)
            .unwrap_or_else(|e| panic!("{text}: {e:?}"))
            .expect("a selection")
    }

    fn object() -> Value {
        json!({
            "id": 1,
            "name": "a",
            "groups": ["X"],
            "host": {"id": 53, "name": "console"},
            "hosts": [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}],
        })
    }

    #[test]
    fn top_level_fields_keep_object_order() {
        let projected = project(&object(), &sel("name, id"));
        assert_eq!(projected, json!({"id": 1, "name": "a"}));
        let text = projected.to_string();
        assert!(text.find("\"id\"") < text.find("\"name\""));
    }

    #[test]
    fn subfields_in_parentheses() {
        assert_eq!(
            project(&object(), &sel("id,host(id)")),
            json!({"id": 1, "host": {"id": 53}})
        );
        assert_eq!(
            project(&object(), &sel("hosts( name )")),
            json!({"hosts": [{"name": "x"}, {"name": "y"}]})
        );
        // A parent without subfields keeps all of it.
        assert_eq!(
            project(&object(), &sel("host")),
            json!({"host": {"id": 53, "name": "console"}})
        );
        assert_eq!(
            project(&object(), &sel("host(id,name),groups")),
            json!({"groups": ["X"], "host": {"id": 53, "name": "console"}})
        );
    }

    #[test]
    fn projection_handles_nulls_and_arrays_of_objects() {
        let value = json!([{"id": 1, "host": null}, {"id": 2, "host": {"id": 3, "name": "n"}}]);
        assert_eq!(
            project(&value, &sel("host(name)")),
            json!([{"host": null}, {"host": {"name": "n"}}])
        );
    }

    #[test]
    fn blank_means_everything_and_duplicates_collapse() {
        assert_eq!(parse("", SCHEMA), Ok(None));
        assert_eq!(parse("  ", SCHEMA), Ok(None));
        assert_eq!(sel("id,id").len(), 1);
    }

    #[test]
    fn unknown_and_malformed_fields_are_422_30() {
        let cases = [
            ("nope", "nope"),
            ("id,nope", "nope"),
            ("host(nope)", "nope"),
            ("id(x)", "id(x)"),
            ("groups(a,b(c))", "groups(a,b(c))"),
            ("id,", "id,"),
            (",id", ",id"),
            ("id,,name", "id,,name"),
            ("host(id", "host(id"),
            ("host(id))", "host(id))"),
            ("host()", "host()"),
            ("id name", "id name"),
            ("id;name", "id;name"),
            ("ïd", "ïd"),
        ];
        for (text, named) in cases {
            let e = parse(text, SCHEMA).expect_err(text);
            assert_eq!((e.status, e.code), (422, 30), "{text}");
            assert_eq!(
                e.message,
                format!(
                    "Specified field \"{named}\" is not recognized by this endpoint for media type \"application/json\""
                ),
                "{text}"
            );
        }
        let deep = format!("host{}id{}", "(a".repeat(20), ")".repeat(20));
        assert!(parse(&deep, SCHEMA).is_err());
    }
}
