//! The operator-declared JSA deployment: managed hosts (resources of kind `jsa-host`, id =
//! the QRadar host id as text) and backup configurations (kind `backup-config`).
//!
//! Host attributes: `is_console`, `stores_data` (holds Ariel data), `data_backups_configured`,
//! `status` (QRadar's host status, `Active` when usable; the resource `state` when absent),
//! `version` and `build_version` (the JSA version a backup records). Configuration
//! attributes: `deployed` (false: exists only as a staged change) and `staged_changes` (an
//! undeployed configuration change is waiting).
//!
//! Defaults when an attribute is absent: `is_console`, `stores_data` and `staged_changes`
//! false; `data_backups_configured` and `deployed` true; versions [`DEFAULT_VERSION`] and
//! [`DEFAULT_BUILD_VERSION`]. Booleans may be JSON booleans or the strings `true`/`false`
//! (so the console is found by reading every host: the host's attribute filter matches
//! strings only). A lookup the host cannot answer is its error, never "no such host".

use backup_gateway_sdk::{Host, HostError, paging, resources::Resource};
use serde_json::{Map, Value};

use crate::errors::ApiError;
use crate::store::failed;

/// Resource kind of a JSA managed host.
pub const HOST_KIND: &str = "jsa-host";
/// Resource kind of a backup configuration.
pub const CONFIG_KIND: &str = "backup-config";
/// JSA version recorded when a host declares none (JSA 7.5.0).
pub const DEFAULT_VERSION: &str = "7.5.0";
/// Build version recorded when a host declares none.
pub const DEFAULT_BUILD_VERSION: &str = "2021.6.5.20230322144215";

/// A managed host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsaHost {
    /// QRadar host id.
    pub id: u64,
    /// The resource id (the host id as declared).
    pub resource_id: String,
    /// The console.
    pub is_console: bool,
    /// Holds Ariel data.
    pub stores_data: bool,
    /// Data backups are configured for it.
    pub data_backups_configured: bool,
    /// Its status is `Active`.
    pub active: bool,
    /// JSA version.
    pub version: String,
    /// JSA build version.
    pub build_version: String,
}

/// A backup configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupConfig {
    /// Its id.
    pub id: u64,
    /// Deployed (not only staged).
    pub deployed: bool,
    /// An undeployed change is waiting.
    pub staged_changes: bool,
}

/// A resource's attributes as an object (empty when they are not one).
fn attributes(resource: &Resource) -> Map<String, Value> {
    match serde_json::from_str::<Value>(&resource.attributes) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// A boolean attribute.
fn flag(attrs: &Map<String, Value>, name: &str, default: bool) -> bool {
    match attrs.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        _ => default,
    }
}

/// A string attribute.
fn text(attrs: &Map<String, Value>, name: &str, default: &str) -> String {
    match attrs.get(name) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => default.to_string(),
    }
}

impl JsaHost {
    /// The host a resource declares (none when its id is not a number).
    pub fn from_resource(resource: &Resource) -> Option<JsaHost> {
        let id = resource.id.parse::<u64>().ok()?;
        let attrs = attributes(resource);
        let status = text(&attrs, "status", &resource.state);
        Some(JsaHost {
            id,
            resource_id: resource.id.clone(),
            is_console: flag(&attrs, "is_console", false),
            stores_data: flag(&attrs, "stores_data", false),
            data_backups_configured: flag(&attrs, "data_backups_configured", true),
            active: status.eq_ignore_ascii_case("active"),
            version: text(&attrs, "version", DEFAULT_VERSION),
            build_version: text(&attrs, "build_version", DEFAULT_BUILD_VERSION),
        })
    }
}

/// The host with this id.
pub fn host(store: &impl Host, id: u64) -> Result<Option<JsaHost>, HostError> {
    Ok(store
        .resource(HOST_KIND, &id.to_string())?
        .as_ref()
        .and_then(JsaHost::from_resource))
}

/// The console (the lowest-numbered host marked `is_console`).
pub fn console(store: &impl Host) -> Result<Option<JsaHost>, HostError> {
    Ok(
        paging::all_resources(store, &paging::resources_of(HOST_KIND))?
            .iter()
            .filter_map(JsaHost::from_resource)
            .filter(|h| h.is_console)
            .min_by_key(|h| h.id),
    )
}

/// The JSA version the deployment runs now (the console's).
pub fn current_version(console: Option<&JsaHost>) -> String {
    console.map_or_else(|| DEFAULT_VERSION.to_string(), |c| c.version.clone())
}

/// The JSA version the deployment runs now, read from the host; a console that cannot be
/// read is JSA's 503 (or 500), not the default version.
pub fn version_now(store: &impl Host) -> Result<String, ApiError> {
    let console = console(store).map_err(|e| failed(store, "reading the console host", &e))?;
    Ok(current_version(console.as_ref()))
}

/// The backup configuration with this id.
pub fn config(store: &impl Host, id: u64) -> Result<Option<BackupConfig>, HostError> {
    let Some(resource) = store.resource(CONFIG_KIND, &id.to_string())? else {
        return Ok(None);
    };
    let attrs = attributes(&resource);
    Ok(Some(BackupConfig {
        id,
        deployed: flag(&attrs, "deployed", true),
        staged_changes: flag(&attrs, "staged_changes", false),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{backup_config, jsa_host};
    use backup_gateway_sdk::testing::{FakeHost, Import};
    use serde_json::json;

    #[test]
    fn host_attributes_and_defaults() {
        let store = FakeHost::new();
        store.add_resource(jsa_host(
            53,
            json!({"is_console": true, "stores_data": "TRUE", "version": "7.5.0.UP7"}),
        ));
        store.add_resource(jsa_host(
            104,
            json!({"status": "Offline", "data_backups_configured": false}),
        ));
        store.add_resource(jsa_host(7, json!("not an object")));
        let console = host(&store, 53).expect("read").expect("53");
        assert!(console.is_console && console.stores_data && console.active);
        assert!(console.data_backups_configured);
        assert_eq!(console.version, "7.5.0.UP7");
        assert_eq!(console.build_version, DEFAULT_BUILD_VERSION);
        let mh = host(&store, 104).expect("read").expect("104");
        assert!(!mh.is_console && !mh.stores_data && !mh.active && !mh.data_backups_configured);
        let bare = host(&store, 7).expect("read").expect("7");
        assert_eq!(bare.version, DEFAULT_VERSION);
        assert!(bare.active, "the resource state 'active' counts");
        assert_eq!(host(&store, 8), Ok(None));
    }

    #[test]
    fn the_console_is_the_lowest_console_host() {
        let store = FakeHost::new();
        assert_eq!(console(&store), Ok(None));
        assert_eq!(current_version(None), DEFAULT_VERSION);
        store.add_resource(jsa_host(300, json!({"is_console": true, "version": "a"})));
        store.add_resource(jsa_host(53, json!({"is_console": true, "version": "b"})));
        store.add_resource(jsa_host(2, json!({})));
        let c = console(&store).expect("read").expect("console");
        assert_eq!(c.id, 53);
        assert_eq!(current_version(Some(&c)), "b");
        assert_eq!(version_now(&store).as_deref(), Ok("b"));
        store.fail_next(Import::ResourcesList, 1, HostError::Unavailable);
        assert_eq!(version_now(&store).map_err(|e| e.status), Err(503));
    }

    #[test]
    fn non_numeric_host_ids_are_not_hosts() {
        let mut r = jsa_host(1, json!({"is_console": true}));
        r.id = "console".into();
        assert!(JsaHost::from_resource(&r).is_none());
    }

    #[test]
    fn configs() {
        let store = FakeHost::new();
        store.add_resource(backup_config(1, json!({})));
        store.add_resource(backup_config(
            2,
            json!({"deployed": false, "staged_changes": true}),
        ));
        assert_eq!(
            config(&store, 1),
            Ok(Some(BackupConfig {
                id: 1,
                deployed: true,
                staged_changes: false
            }))
        );
        assert_eq!(
            config(&store, 2),
            Ok(Some(BackupConfig {
                id: 2,
                deployed: false,
                staged_changes: true
            }))
        );
        assert_eq!(config(&store, 3), Ok(None));
    }
}
