//! Scenario variables and `{{name}}` substitution.
//!
//! Variables come from the scenario's `[vars]` table, from `capture` on earlier steps, and
//! from the harness itself after every request that sent a body (`sent_sha256`, `sent_size`).
//! Substitution applies to paths, header values, request bodies and every string of the
//! expectations (before matchers are interpreted). An unknown variable is an error, never an
//! empty string, so a typo cannot make a step pass by accident.

use std::collections::BTreeMap;

use serde_json::Value;

/// Variables in scope for the next step.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, String>,
}

impl Vars {
    /// Variables seeded from a scenario's `[vars]` table.
    pub fn new(initial: &BTreeMap<String, String>) -> Vars {
        Vars {
            values: initial.clone(),
        }
    }

    /// Set (or replace) a variable.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_string(), value.into());
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `text` with every `{{name}}` replaced; `{{` without a closing `}}` is kept as is.
    pub fn substitute(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start + 2..].find("}}") else {
                break;
            };
            out.push_str(&rest[..start]);
            let name = rest[start + 2..start + 2 + len].trim();
            match self.values.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    return Err(format!(
                        "unknown variable {{{{{name}}}}} (known: {})",
                        self.names()
                    ));
                }
            }
            rest = &rest[start + 2 + len + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A JSON value with every string (and object key) substituted.
    pub fn substitute_json(&self, value: &Value) -> Result<Value, String> {
        Ok(match value {
            Value::String(s) => Value::String(self.substitute(s)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.substitute_json(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    out.insert(self.substitute(k)?, self.substitute_json(v)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    fn names(&self) -> String {
        if self.values.is_empty() {
            return "none".into();
        }
        self.values.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn substitutes_and_refuses_unknown_names() {
        let mut v = Vars::default();
        v.set("jobId", "job_1");
        assert_eq!(
            v.substitute("/api/jobs/{{jobId}}?x={{ jobId }}").unwrap(),
            "/api/jobs/job_1?x=job_1"
        );
        assert_eq!(v.substitute("no vars {{ here").unwrap(), "no vars {{ here");
        let err = v.substitute("{{nope}}").unwrap_err();
        assert!(err.contains("unknown variable {{nope}}"), "{err}");
        assert!(err.contains("jobId"), "{err}");
        assert_eq!(
            v.substitute_json(&json!({"a": ["{{jobId}}", 1], "{{jobId}}": null}))
                .unwrap(),
            json!({"a": ["job_1", 1], "job_1": null})
        );
    }
}
