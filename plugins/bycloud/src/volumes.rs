//! Volumes: the operator's resources of kind `volume` (id: a UUID), whose state gates
//! backups and restores the way Cinder's volume status does, and whose `region` attribute
//! names the region in backup CRNs.
//!
//! | state | backup | backup with `force` | restore into |
//! |---|---|---|---|
//! | `available`, `active` (the host's default) | yes | yes | yes |
//! | `in-use`, `attached` | 409 | yes | 409 |
//! | anything else (`creating`, `error`, `maintenance`, …) | 409 | 409 | 409 |
//!
//! A volume without a capture source can neither be backed up nor restored into (409).
//! Captures and restores of one volume never overlap: both are exclusive host jobs, so a
//! second one is refused atomically (409) while one is queued or running.

use backup_gateway_sdk::resources::Resource;
use serde_json::Value;

use crate::errors::ApiError;

/// Region used in CRNs when a volume names none (the region of ByCloud's documented samples,
/// `api.spo1.mycloud.com`).
pub const DEFAULT_REGION: &str = "spo1";

/// Summary of a 409 refusing a backup of a volume (the seed's wording).
pub const BACKUP_REFUSED: &str = "Volume is not in a state that allows backup";
/// Summary of a 409 refusing a restore into a volume.
pub const RESTORE_REFUSED: &str = "Volume is not in a state that allows restore";

/// States a volume can be backed up and restored into in.
const READY: &[&str] = &["available", "active"];
/// States of an attached volume (backups need `force`).
const ATTACHED: &[&str] = &["in-use", "attached"];

fn state_is(volume: &Resource, states: &[&str]) -> bool {
    states
        .iter()
        .any(|s| s.eq_ignore_ascii_case(volume.state.trim()))
}

/// The region of a volume: its `region` attribute when that is 1-32 lower-case letters,
/// digits and hyphens, else [`DEFAULT_REGION`].
pub fn region_of(volume: &Resource) -> String {
    serde_json::from_str::<Value>(&volume.attributes)
        .ok()
        .and_then(|a| a.get("region").and_then(Value::as_str).map(str::to_string))
        .filter(|r| {
            (1..=32).contains(&r.len())
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .unwrap_or_else(|| DEFAULT_REGION.to_string())
}

fn no_source(volume: &Resource, message: &'static str) -> ApiError {
    ApiError::conflict(
        message,
        format!(
            "Volume '{}' has no data source attached to the gateway.",
            volume.id
        ),
    )
}

/// Whether `volume` may be backed up now.
pub fn check_backup(volume: &Resource, force: bool) -> Result<(), ApiError> {
    if !volume.has_source {
        return Err(no_source(volume, BACKUP_REFUSED));
    }
    if state_is(volume, READY) || (force && state_is(volume, ATTACHED)) {
        return Ok(());
    }
    let details = if state_is(volume, ATTACHED) {
        format!(
            "Volume '{}' is {}; set \"force\": true to back up an attached volume.",
            volume.id, volume.state
        )
    } else {
        format!(
            "Volume '{}' is in state '{}'; it must be available or in-use.",
            volume.id, volume.state
        )
    };
    Err(ApiError::conflict(BACKUP_REFUSED, details))
}

/// Whether `volume` may be restored into now.
pub fn check_restore_target(volume: &Resource) -> Result<(), ApiError> {
    if !volume.has_source {
        return Err(no_source(volume, RESTORE_REFUSED));
    }
    if state_is(volume, READY) {
        return Ok(());
    }
    Err(ApiError::conflict(
        RESTORE_REFUSED,
        format!(
            "Volume '{}' is in state '{}'; a backup can only be restored into an available volume.",
            volume.id, volume.state
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::volume;
    use serde_json::json;

    const VOL: &str = "aaaaaaaa-0000-4000-8000-000000000001";

    #[test]
    fn backup_gates() {
        for state in ["available", "active", "Available"] {
            assert_eq!(check_backup(&volume(VOL, state), false), Ok(()), "{state}");
        }
        for state in ["in-use", "attached"] {
            let e = check_backup(&volume(VOL, state), false).expect_err(state);
            assert_eq!((e.status, e.message), (409, BACKUP_REFUSED));
            assert!(e.details.contains("\"force\": true"), "{}", e.details);
            assert_eq!(check_backup(&volume(VOL, state), true), Ok(()), "{state}");
        }
        for state in ["creating", "error", "maintenance", ""] {
            let e = check_backup(&volume(VOL, state), true).expect_err(state);
            assert_eq!(
                e.details,
                format!("Volume '{VOL}' is in state '{state}'; it must be available or in-use.")
            );
        }
        let mut sourceless = volume(VOL, "available");
        sourceless.has_source = false;
        let e = check_backup(&sourceless, true).expect_err("no source");
        assert_eq!(e.status, 409);
        assert!(e.details.contains("no data source"));
    }

    #[test]
    fn restore_gates() {
        assert_eq!(check_restore_target(&volume(VOL, "available")), Ok(()));
        assert_eq!(check_restore_target(&volume(VOL, "active")), Ok(()));
        for state in ["in-use", "attached", "error"] {
            let e = check_restore_target(&volume(VOL, state)).expect_err(state);
            assert_eq!((e.status, e.message), (409, RESTORE_REFUSED));
        }
        let mut sourceless = volume(VOL, "available");
        sourceless.has_source = false;
        assert_eq!(
            check_restore_target(&sourceless).map_err(|e| e.status),
            Err(409)
        );
    }

    #[test]
    fn regions() {
        let mut v = volume(VOL, "available");
        assert_eq!(region_of(&v), "spo1");
        v.attributes = json!({ "region": "eu-north-2" }).to_string();
        assert_eq!(region_of(&v), "eu-north-2");
        for bad in [
            json!("EU"),
            json!(""),
            json!("a:b"),
            json!(7),
            json!("x".repeat(33)),
        ] {
            v.attributes = json!({ "region": bad }).to_string();
            assert_eq!(region_of(&v), "spo1", "{bad}");
        }
        v.attributes = "not json".into();
        assert_eq!(region_of(&v), "spo1");
    }
}
