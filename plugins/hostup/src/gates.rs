//! The backup action gates HostUp shows under `actions` and enforces on create: whether a
//! backup can be made (capture source, in-flight capture, per-VPS quota) and whether there is
//! anything to restore. The same [`Gate`] answers the listing and refuses the POST, so the two
//! never disagree.

use backup_gateway_sdk::resources::Resource;
use serde_json::{Value, json};

use crate::problem::{ApiError, BACKUP_IN_PROGRESS, BACKUP_NOT_AVAILABLE, BACKUP_QUOTA_EXCEEDED};
use crate::store::InFlight;

/// Backups a VPS may keep when its `backupQuota` attribute is absent.
pub const DEFAULT_BACKUP_QUOTA: u64 = 3;

/// `code` of `canRestore` when the VPS has no backups.
pub const NO_BACKUPS: &str = "no_backups";

/// Reason for [`BACKUP_NOT_AVAILABLE`].
const NOT_AVAILABLE_REASON: &str = "Backups are not available for this VPS.";
/// Reason for [`BACKUP_IN_PROGRESS`] on create.
const CAPTURE_RUNNING_REASON: &str = "A backup is already in progress for this VPS.";
/// Reason for [`BACKUP_IN_PROGRESS`] on restore.
const JOB_RUNNING_REASON: &str = "A backup or restore is already in progress for this VPS.";
/// Reason for [`BACKUP_QUOTA_EXCEEDED`].
const QUOTA_REASON: &str =
    "The backup quota for this VPS has been reached. Delete a backup before creating a new one.";
/// Reason for [`NO_BACKUPS`].
const NO_BACKUPS_REASON: &str = "This VPS has no backups to restore.";

/// A VPS's backup quota: backups kept against the limit (`None`: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Backups the VPS has.
    pub used: u64,
    /// Backups it may have.
    pub limit: Option<u64>,
}

impl Quota {
    /// The quota of `vps` with `used` backups. `backupQuota` is a non-negative integer;
    /// `null` means unlimited (HostUp shows `limit: null`); absent or any other value means
    /// the default of 3.
    pub fn of(vps: &Resource, used: u64) -> Quota {
        let attributes: Value = serde_json::from_str(&vps.attributes).unwrap_or(Value::Null);
        let limit = match attributes.get("backupQuota") {
            Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().unwrap_or(DEFAULT_BACKUP_QUOTA)),
            None => Some(DEFAULT_BACKUP_QUOTA),
        };
        Quota { used, limit }
    }

    /// Backups left before the limit (`None`: unlimited).
    pub fn remaining(self) -> Option<u64> {
        self.limit.map(|l| l.saturating_sub(self.used))
    }

    /// Whether no further backup fits.
    pub fn exhausted(self) -> bool {
        self.remaining() == Some(0)
    }

    /// `quotaInfo`.
    pub fn to_json(self) -> Value {
        json!({ "used": self.used, "limit": self.limit, "remaining": self.remaining() })
    }
}

/// One action gate: allowed, or refused with a reason and a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// Refusal code and reason; `None` when the action is allowed.
    pub refusal: Option<(&'static str, &'static str)>,
}

impl Gate {
    /// An allowed action.
    pub const ALLOWED: Gate = Gate { refusal: None };

    /// A refused action.
    const fn refused(code: &'static str, reason: &'static str) -> Gate {
        Gate {
            refusal: Some((code, reason)),
        }
    }

    /// `{allowed, reason, code}`.
    pub fn to_json(self) -> Value {
        match self.refusal {
            None => json!({ "allowed": true, "reason": null, "code": null }),
            Some((code, reason)) => json!({ "allowed": false, "reason": reason, "code": code }),
        }
    }

    /// The 409 a refused action answers with; `Ok` when it is allowed.
    pub fn check(self) -> Result<(), ApiError> {
        match self.refusal {
            None => Ok(()),
            Some((code, reason)) => Err(ApiError::conflict(code, reason)),
        }
    }
}

/// `canCreateBackup`: the VPS needs a capture source, no capture queued or running, and room
/// in its quota (checked in that order).
pub fn can_create_backup(has_source: bool, in_flight: InFlight, quota: &Quota) -> Gate {
    if !has_source {
        Gate::refused(BACKUP_NOT_AVAILABLE, NOT_AVAILABLE_REASON)
    } else if in_flight.capture {
        Gate::refused(BACKUP_IN_PROGRESS, CAPTURE_RUNNING_REASON)
    } else if quota.exhausted() {
        Gate::refused(BACKUP_QUOTA_EXCEEDED, QUOTA_REASON)
    } else {
        Gate::ALLOWED
    }
}

/// `canRestore`: no job of the VPS queued or running, and at least one backup.
pub fn can_restore(backups: u64, in_flight: InFlight) -> Gate {
    if in_flight.any {
        Gate::refused(BACKUP_IN_PROGRESS, JOB_RUNNING_REASON)
    } else if backups == 0 {
        Gate::refused(NO_BACKUPS, NO_BACKUPS_REASON)
    } else {
        Gate::ALLOWED
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{VPS, vps, vps_with};

    const IDLE: InFlight = InFlight {
        capture: false,
        any: false,
    };
    const CAPTURING: InFlight = InFlight {
        capture: true,
        any: true,
    };
    const RESTORING: InFlight = InFlight {
        capture: false,
        any: true,
    };

    #[test]
    fn quota_comes_from_the_backup_quota_attribute() {
        let cases = [
            (json!({}), Some(3)),
            (json!({ "backupQuota": 5 }), Some(5)),
            (json!({ "backupQuota": 0 }), Some(0)),
            (json!({ "backupQuota": null }), None),
            (json!({ "backupQuota": -1 }), Some(3)),
            (json!({ "backupQuota": "7" }), Some(3)),
            (json!({ "backupQuota": 2.5 }), Some(3)),
            (json!([1, 2]), Some(3)),
        ];
        for (attributes, limit) in cases {
            let quota = Quota::of(&vps_with(VPS, attributes.clone()), 1);
            assert_eq!(quota.limit, limit, "{attributes}");
        }
        let mut broken = vps(VPS);
        broken.attributes = "not json".into();
        assert_eq!(Quota::of(&broken, 0).limit, Some(3));
    }

    #[test]
    fn quota_info_shape() {
        let q = Quota {
            used: 1,
            limit: Some(3),
        };
        assert_eq!(
            q.to_json(),
            json!({ "used": 1, "limit": 3, "remaining": 2 })
        );
        let over = Quota {
            used: 5,
            limit: Some(3),
        };
        assert_eq!(over.remaining(), Some(0));
        assert!(over.exhausted());
        let unlimited = Quota {
            used: 9,
            limit: None,
        };
        assert!(!unlimited.exhausted());
        assert_eq!(
            unlimited.to_json(),
            json!({ "used": 9, "limit": null, "remaining": null })
        );
    }

    #[test]
    fn create_gate_checks_source_then_jobs_then_quota() {
        let room = Quota {
            used: 0,
            limit: Some(3),
        };
        let full = Quota {
            used: 3,
            limit: Some(3),
        };
        let code = |g: Gate| g.refusal.map(|(c, _)| c);
        assert_eq!(can_create_backup(true, IDLE, &room), Gate::ALLOWED);
        assert_eq!(can_create_backup(true, RESTORING, &room), Gate::ALLOWED);
        assert_eq!(
            code(can_create_backup(false, CAPTURING, &full)),
            Some("backup_not_available")
        );
        assert_eq!(
            code(can_create_backup(true, CAPTURING, &full)),
            Some("backup_in_progress")
        );
        assert_eq!(
            code(can_create_backup(true, IDLE, &full)),
            Some("backup_quota_exceeded")
        );
    }

    #[test]
    fn restore_gate_needs_a_backup_and_no_job() {
        assert_eq!(can_restore(1, IDLE), Gate::ALLOWED);
        assert_eq!(
            can_restore(0, IDLE).to_json(),
            json!({
                "allowed": false,
                "reason": "This VPS has no backups to restore.",
                "code": "no_backups",
            })
        );
        assert_eq!(
            can_restore(2, RESTORING).refusal.map(|(c, _)| c),
            Some("backup_in_progress")
        );
        assert_eq!(
            can_restore(2, CAPTURING).refusal.map(|(c, _)| c),
            Some("backup_in_progress")
        );
    }

    #[test]
    fn gates_render_and_refuse() {
        assert_eq!(
            Gate::ALLOWED.to_json(),
            json!({ "allowed": true, "reason": null, "code": null })
        );
        assert!(Gate::ALLOWED.check().is_ok());
        let refused = can_create_backup(
            true,
            CAPTURING,
            &Quota {
                used: 0,
                limit: None,
            },
        );
        let error = refused.check().expect_err("refused");
        assert_eq!(error.status, 409);
        assert_eq!(error.code, "backup_in_progress");
        assert_eq!(error.title, "Conflict");
        assert_eq!(
            error.detail,
            "A backup is already in progress for this VPS."
        );
    }
}
