//! Client credentials through the control plane: issued (the server generates the secret
//! and returns it once, or takes its SHA-256), listed and read (never a secret), revoked,
//! and rotated with overlap (a new secret while the old one stays valid for a grace the
//! caller sets). Every node authenticates them from memory; a change reaches each within a
//! poll of the control version.

use super::{Actor, Control, ControlError, audit};
use crate::store::{CredentialRecord, now_micros};

/// A credential to issue.
#[derive(Debug, Clone)]
pub struct NewCredential {
    /// The org it acts for (must exist).
    pub org: String,
    /// The plugin it is valid for.
    pub plugin: String,
    /// `basic`, `bearer` or `header`.
    pub scheme: String,
    /// Basic: the user name; others: a label.
    pub key: String,
    /// The header of the `header` scheme.
    pub header: Option<String>,
    /// The subject the plugin sees (default: the key).
    pub subject: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Seconds until it expires (none: never).
    pub expires_in_seconds: Option<u64>,
    /// Hex SHA-256 of a secret the caller chose (none: the server generates one).
    pub secret_sha256: Option<String>,
}

/// The longest grace a rotation may give the old secret: 30 days.
const MAX_GRACE_SECONDS: u64 = 30 * 86_400;

fn generated() -> String {
    format!(
        "bgc_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn micros_after(seconds: u64) -> i64 {
    now_micros().saturating_add(
        i64::try_from(seconds)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000),
    )
}

fn check_text(pointer: &str, v: &str, max: usize) -> Result<(), ControlError> {
    let ok = !v.is_empty() && v.len() <= max && !v.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(ControlError::invalid(
            pointer,
            format!("must be 1-{max} characters, none of them control characters"),
        ))
    }
}

/// Check a new credential's fields; its header, lower-cased, for the `header` scheme.
fn check_new(n: &NewCredential) -> Result<Option<String>, ControlError> {
    check_text("/plugin", &n.plugin, 64)?;
    check_text("/key", &n.key, 200)?;
    if n.scheme == "basic" && n.key.contains(':') {
        return Err(ControlError::invalid(
            "/key",
            "a basic user name cannot contain ':'",
        ));
    }
    if let Some(s) = &n.subject {
        check_text("/subject", s, 200)?;
    }
    for (i, s) in n.scopes.iter().enumerate() {
        check_text(&format!("/scopes/{i}"), s, 100)?;
    }
    if n.expires_in_seconds == Some(0) {
        return Err(ControlError::invalid(
            "/expires_in_seconds",
            "must be at least 1",
        ));
    }
    if let Some(h) = &n.secret_sha256
        && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(ControlError::invalid(
            "/secret_sha256",
            "must be 64 hex digits",
        ));
    }
    match (n.scheme.as_str(), &n.header) {
        ("header", Some(h)) if http_token(h) => Ok(Some(h.to_ascii_lowercase())),
        ("header", _) => Err(ControlError::invalid(
            "/header",
            "the header scheme needs a header name",
        )),
        ("basic" | "bearer", None) => Ok(None),
        ("basic" | "bearer", Some(_)) => Err(ControlError::invalid(
            "/header",
            "only the header scheme takes a header",
        )),
        _ => Err(ControlError::invalid(
            "/scheme",
            "one of basic, bearer, header",
        )),
    }
}

/// Whether `h` is a header name (an RFC 9110 token).
fn http_token(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 64
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Control {
    /// Issue a credential; the generated secret (if the caller gave no hash) is in the
    /// answer and nowhere else, ever.
    pub async fn create_credential(
        &self,
        actor: &Actor,
        new: NewCredential,
    ) -> Result<(CredentialRecord, Option<String>), ControlError> {
        let header = check_new(&new)?;
        if self.db.org(&new.org).await?.is_none() {
            return Err(ControlError::invalid(
                "/org",
                format!("no org {:?}", new.org),
            ));
        }
        let clash = new.scheme == "basic"
            && self
                .db
                .credentials(None, true)
                .await?
                .iter()
                .any(|c| c.scheme == "basic" && c.plugin == new.plugin && c.key == new.key);
        if clash {
            return Err(ControlError::Conflict(format!(
                "a live basic credential {:?} for {:?} exists: rotate or revoke it",
                new.key, new.plugin
            )));
        }
        let secret = new.secret_sha256.is_none().then(generated);
        let digest = match (&secret, &new.secret_sha256) {
            (Some(s), _) => hex::encode(super::hash_token(s)),
            (None, Some(h)) => h.to_ascii_lowercase(),
            (None, None) => return Err(ControlError::invalid("/secret_sha256", "missing")),
        };
        let rec = CredentialRecord {
            id: uuid::Uuid::now_v7().to_string(),
            subject: new.subject.clone().unwrap_or_else(|| new.key.clone()),
            org: new.org,
            plugin: new.plugin,
            scheme: new.scheme,
            header,
            key: new.key,
            scopes: new.scopes,
            expires_at: new.expires_in_seconds.map(micros_after),
            previous_until: None,
            created_at: now_micros(),
            revoked_at: None,
            secret_sha256: digest,
            previous_sha256: None,
        };
        let entry = audit(
            actor,
            Some(&rec.org),
            "credential.create",
            format!("credential/{}", rec.id),
        );
        self.db.insert_credential(&rec, entry).await?;
        Ok((rec, secret))
    }

    /// Credentials (of one org, or all), revoked ones included; never a secret.
    pub async fn credentials(
        &self,
        org: Option<&str>,
    ) -> Result<Vec<CredentialRecord>, ControlError> {
        Ok(self.db.credentials(org, false).await?)
    }

    /// One credential.
    pub async fn credential(&self, id: &str) -> Result<CredentialRecord, ControlError> {
        self.db
            .credential(id)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("credential {id:?}")))
    }

    /// Revoke a credential: refused on every node within a poll.
    pub async fn revoke_credential(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<CredentialRecord, ControlError> {
        let org = self.credential(id).await?.org;
        let entry = audit(
            actor,
            Some(&org),
            "credential.revoke",
            format!("credential/{id}"),
        );
        self.db
            .revoke_credential(id, entry)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("credential {id:?}")))
    }

    /// A new secret for a live credential, the current one valid `grace_seconds` more; the
    /// new secret is in the answer only.
    pub async fn rotate_credential(
        &self,
        actor: &Actor,
        id: &str,
        grace_seconds: u64,
    ) -> Result<(CredentialRecord, String), ControlError> {
        if grace_seconds > MAX_GRACE_SECONDS {
            return Err(ControlError::invalid(
                "/grace_seconds",
                format!("at most {MAX_GRACE_SECONDS} (30 days)"),
            ));
        }
        let current = self.credential(id).await?;
        if current.revoked_at.is_some() {
            return Err(ControlError::Conflict(format!(
                "credential {id:?} is revoked"
            )));
        }
        let secret = generated();
        let digest = hex::encode(super::hash_token(&secret));
        let entry = audit(
            actor,
            Some(&current.org),
            "credential.rotate",
            format!("credential/{id}"),
        );
        let rec = self
            .db
            .rotate_credential(id, &digest, micros_after(grace_seconds), entry)
            .await?
            .ok_or_else(|| ControlError::Conflict(format!("credential {id:?} is revoked")))?;
        Ok((rec, secret))
    }
}
