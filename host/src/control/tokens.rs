//! Admin API tokens: bearer tokens the server generates (`bgat_` and 64 hex digits), kept
//! only as their SHA-256, each with scopes and an optional expiry; and the bootstrap token,
//! whose hash comes from the configuration or the environment. Being on loopback grants
//! nothing.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Control, ControlError, audit};
use crate::store::{AdminTokenRecord, now_micros};

/// What every generated token starts with (so a leaked one is recognisable in a scan).
pub const TOKEN_PREFIX: &str = "bgat_";

/// What an admin token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminScope {
    /// Read anything (orgs, usage, tokens, the audit log).
    Read,
    /// Change orgs, credentials, limits, resources and tokens.
    Write,
    /// Install and roll out plugins.
    Plugins,
}

impl AdminScope {
    /// Its name in tokens and requests.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminScope::Read => "read",
            AdminScope::Write => "write",
            AdminScope::Plugins => "plugins",
        }
    }

    /// The scope named `s`.
    pub fn parse(s: &str) -> Option<AdminScope> {
        [AdminScope::Read, AdminScope::Write, AdminScope::Plugins]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// Who is calling the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's id (`bootstrap` for the configured one).
    pub token_id: String,
    /// What it may do.
    pub scopes: Vec<AdminScope>,
}

impl Actor {
    /// How audit entries name it.
    pub fn name(&self) -> String {
        format!("admin:{}", self.token_id)
    }

    /// Whether it holds `scope`.
    pub fn may(&self, scope: AdminScope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// What it is for.
    pub name: String,
    /// Scope names.
    pub scopes: Vec<String>,
    /// Seconds until it expires (none: it does not).
    pub expires_in_seconds: Option<u64>,
}

/// The SHA-256 of a token.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn generate() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("{TOKEN_PREFIX}{a}{b}")
}

impl Control {
    /// The actor a bearer token is, if it is a live admin token.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Actor>, ControlError> {
        let digest = hash_token(token);
        if let Some(b) = &self.bootstrap
            && bool::from(b.ct_eq(&digest))
        {
            return Ok(Some(Actor {
                token_id: "bootstrap".into(),
                scopes: vec![AdminScope::Read, AdminScope::Write, AdminScope::Plugins],
            }));
        }
        let Some(rec) = self.db.admin_token_by_hash(&hex::encode(digest)).await? else {
            return Ok(None);
        };
        let expired = rec.expires_at.is_some_and(|t| t <= now_micros());
        if rec.revoked_at.is_some() || expired {
            return Ok(None);
        }
        Ok(Some(Actor {
            token_id: rec.id,
            scopes: rec
                .scopes
                .iter()
                .filter_map(|s| AdminScope::parse(s))
                .collect(),
        }))
    }

    /// Create a token; the secret is in the answer and nowhere else, ever.
    pub async fn create_token(
        &self,
        actor: &Actor,
        new: NewToken,
    ) -> Result<(AdminTokenRecord, String), ControlError> {
        let name = new.name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(ControlError::invalid("/name", "must be 1-200 characters"));
        }
        if new.scopes.is_empty() {
            return Err(ControlError::invalid(
                "/scopes",
                "must name at least one scope",
            ));
        }
        for (i, s) in new.scopes.iter().enumerate() {
            if AdminScope::parse(s).is_none() {
                return Err(ControlError::invalid(
                    &format!("/scopes/{i}"),
                    format!("unknown scope {s:?}: one of read, write, plugins"),
                ));
            }
        }
        let now = now_micros();
        let expires_at = match new.expires_in_seconds {
            None => None,
            Some(0) => {
                return Err(ControlError::invalid(
                    "/expires_in_seconds",
                    "must be at least 1",
                ));
            }
            Some(s) => Some(
                now.saturating_add(
                    i64::try_from(s)
                        .unwrap_or(i64::MAX)
                        .saturating_mul(1_000_000),
                ),
            ),
        };
        let rec = AdminTokenRecord {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_owned(),
            scopes: new.scopes,
            expires_at,
            created_at: now,
            revoked_at: None,
        };
        let secret = generate();
        let entry = audit(
            actor,
            None,
            "admin-token.create",
            format!("admin-token/{}", rec.id),
        );
        self.db
            .insert_admin_token(&rec, &hex::encode(hash_token(&secret)), entry)
            .await?;
        Ok((rec, secret))
    }

    /// Every token (never a secret).
    pub async fn tokens(&self) -> Result<Vec<AdminTokenRecord>, ControlError> {
        Ok(self.db.admin_tokens().await?)
    }

    /// Revoke a token: it stops working at once, on every node (each request looks it up).
    pub async fn revoke_token(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<AdminTokenRecord, ControlError> {
        let entry = audit(
            actor,
            None,
            "admin-token.revoke",
            format!("admin-token/{id}"),
        );
        self.db
            .revoke_admin_token(id, entry)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("admin token {id:?}")))
    }
}
