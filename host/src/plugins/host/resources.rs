//! `resources`: the resources of the caller's org (`get`, `list`, `create`, `set-state`); a
//! created resource gets an empty file the host names.

use super::{InstanceState, MAX_LIST};
use crate::plugins::bindings::{resources, types};
use crate::store::{ResourceRecord, now_micros};

fn to_resource(r: ResourceRecord) -> resources::Resource {
    resources::Resource {
        kind: r.kind,
        id: r.id,
        name: r.name,
        state: r.state,
        attributes: r.attributes,
        has_source: r.source.is_some(),
        created_at: u64::try_from(r.created_at).unwrap_or(0),
    }
}

impl resources::Host for InstanceState {
    fn get(
        &mut self,
        kind: String,
        id: String,
    ) -> Result<Option<resources::Resource>, types::HostError> {
        self.with_db(async |s| s.resource(&kind, &id).await)
            .map(|r| r.map(to_resource))
    }

    fn list(&mut self, q: resources::Query) -> Result<Vec<resources::Resource>, types::HostError> {
        let key_ok = |k: &str| {
            (1..=64).contains(&k.len())
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        };
        if let Some((key, _)) = &q.attribute
            && !key_ok(key)
        {
            return Err(types::HostError::Invalid(
                "attribute key must be 1-64 of [A-Za-z0-9._-]".into(),
            ));
        }
        let limit = i64::from(q.limit.min(MAX_LIST));
        let attribute = q.attribute.as_ref().map(|(k, v)| (k.as_str(), v.as_str()));
        let rows = self.with_db(async |s| {
            s.resources(&q.kind, q.after.as_deref(), attribute, limit)
                .await
        })?;
        Ok(rows.into_iter().map(to_resource).collect())
    }

    fn set_state(
        &mut self,
        kind: String,
        id: String,
        state: String,
    ) -> Result<(), types::HostError> {
        match self.with_db(async |s| s.set_resource_state(&kind, &id, &state).await)? {
            true => Ok(()),
            false => Err(types::HostError::NotFound),
        }
    }

    fn create(
        &mut self,
        kind: String,
        id: String,
        name: String,
        attributes: String,
    ) -> Result<resources::Resource, types::HostError> {
        if serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&attributes).is_err()
        {
            return Err(types::HostError::Invalid(
                "attributes must be a JSON object".into(),
            ));
        }
        // the new resource's bytes live in a file the host names (never the plugin): an
        // empty file until a restore writes it
        let (org, services, _) = self.scope().ok_or(types::HostError::NotFound)?;
        let path = crate::keys::volume_path(&services.volumes_dir, org, self.plugin(), &kind, &id);
        let made = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map(drop)
            });
        if let Err(e) = made {
            tracing::error!(path = %path.display(), error = %e, "cannot create a resource's file");
            return Err(types::HostError::Unavailable);
        }
        let source = serde_json::to_string(&crate::config::SourceConfig::File(path))
            .map_err(|_| types::HostError::Unavailable)?;
        let rec = ResourceRecord {
            kind,
            id,
            name,
            state: "available".into(),
            attributes,
            source: Some(source),
            created_at: now_micros(),
        };
        match self.with_db(async |s| s.insert_resource(&rec).await)? {
            true => Ok(to_resource(rec)),
            false => Err(types::HostError::Conflict(
                "a resource with this id exists".into(),
            )),
        }
    }
}
