//! Credential store and authentication: bearer tokens (opaque, or JWTs where a plugin has a
//! verifier — see [`jwt`]), HTTP Basic key/secret pairs and tokens in a named header, each
//! valid for one plugin and one org. Secrets are kept only as SHA-256 digests; a plugin
//! receives the resulting [`Principal`], never a secret. The configuration's credentials
//! never expire; those issued at runtime ([`Issued`]) may, and a rotated one accepts its
//! previous secret until the end of its grace.

pub mod jwt;

use std::collections::HashMap;

use base64::Engine as _;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{CredentialConfig, SchemeConfig};

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Org (tenant) id.
    pub org: String,
    /// The credential's subject.
    pub subject: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

impl Principal {
    /// Whether the principal holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// A way a plugin accepts credentials (from its manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer`.
    Bearer,
    /// `Authorization: Basic`.
    Basic,
    /// A token in the named header (lower-case).
    Header(String),
}

/// Why authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credentials.
    Missing,
    /// An `Authorization` scheme the provider does not accept.
    UnsupportedScheme,
    /// Undecodable credentials.
    MalformedEncoding,
    /// Decodable but malformed credentials.
    MalformedCredentials,
    /// Unknown key, wrong secret.
    InvalidCredentials,
    /// Expired token.
    ExpiredCredentials,
}

/// Why a request's credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// Missing, unusable or wrong credentials (the provider's 401).
    Failed(AuthFailure),
    /// More than one credential: a header the scheme allows once given twice, or two of the
    /// plugin's carriers at once (`Authorization` and its token header). Refused, not
    /// resolved by picking one: two readers of the same request (a proxy, this gateway)
    /// could each pick another, so this is a client mistake (the provider's 400). Names the
    /// header.
    Ambiguous(String),
}

impl From<AuthFailure> for AuthError {
    fn from(f: AuthFailure) -> Self {
        AuthError::Failed(f)
    }
}

/// Where a token was presented: a credential is accepted only the way it was issued.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Carrier {
    /// `Authorization: Bearer`.
    Bearer,
    /// A named header (lower-case).
    Header(String),
}

type Digest32 = [u8; 32];

#[derive(Debug)]
struct Credential {
    principal: Principal,
    digest: Digest32,
    /// When this secret stops working (µs since the epoch); none: never.
    until: Option<i64>,
    /// Whether `until` is the credential's expiry (an expired credential is said to be so),
    /// not the end of a rotated-out secret's grace.
    expires: bool,
}

impl Credential {
    /// The principal, if the secret is still valid at `now` (µs).
    fn valid_at(&self, now: i64) -> Result<Principal, AuthFailure> {
        match self.until {
            Some(u) if now >= u && self.expires => Err(AuthFailure::ExpiredCredentials),
            Some(u) if now >= u => Err(AuthFailure::InvalidCredentials),
            _ => Ok(self.principal.clone()),
        }
    }
}

/// A credential issued at runtime (through the admin API), with each secret digest it
/// accepts and until when: the current one until the credential's expiry, and after a
/// rotation the previous one until the end of its grace.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The org it acts for.
    pub org: String,
    /// The plugin it is valid for.
    pub plugin: String,
    /// How it is presented.
    pub scheme: SchemeConfig,
    /// The header of the `header` scheme.
    pub header: Option<String>,
    /// Basic: the user name.
    pub key: String,
    /// The subject the plugin sees.
    pub subject: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The credential's expiry (µs), if any.
    pub expires_at: Option<i64>,
    /// The current secret's digest.
    pub digest: [u8; 32],
    /// The previous secret's digest and the end of its grace (µs).
    pub previous: Option<([u8; 32], i64)>,
}

/// Every configured credential, indexed for lookup; built once at start-up.
#[derive(Debug, Default)]
pub struct CredentialStore {
    /// (plugin, carrier, sha256(token)) for bearer and header tokens.
    tokens: HashMap<(String, Carrier, Digest32), Credential>,
    /// (plugin, key) for basic credentials (two while a rotation's grace runs).
    basic: HashMap<(String, String), Vec<Credential>>,
    /// JWT verifiers by plugin.
    jwt: HashMap<String, jwt::JwtVerifier>,
}

/// A credential entry that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("credential {key:?}: {reason}")]
pub struct CredentialError {
    key: String,
    reason: String,
}

/// The one value of a header that may appear once.
fn single<'h>(
    headers: &'h HeaderMap,
    name: &str,
) -> Result<Option<&'h http::HeaderValue>, AuthError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(AuthError::Ambiguous(name.to_owned()));
    }
    Ok(first)
}

fn sha256(bytes: &[u8]) -> Digest32 {
    Sha256::digest(bytes).into()
}

impl CredentialStore {
    /// Index the configured credentials, hashing clear secrets.
    pub fn new(configs: &[CredentialConfig]) -> Result<CredentialStore, CredentialError> {
        let mut store = CredentialStore::default();
        for c in configs {
            let err = |reason: &str| CredentialError {
                key: c.key.clone(),
                reason: reason.into(),
            };
            let digest = match (&c.secret, &c.secret_sha256) {
                (Some(s), _) => sha256(s.as_bytes()),
                (None, Some(h)) => hex::decode(h)
                    .ok()
                    .and_then(|v| Digest32::try_from(v).ok())
                    .ok_or_else(|| err("secret_sha256 must be 64 hex digits"))?,
                (None, None) => return Err(err("no secret")),
            };
            let principal = Principal {
                org: c.org.clone(),
                subject: c.subject.clone().unwrap_or_else(|| c.key.clone()),
                scopes: c.scopes.clone(),
            };
            let cred = Credential {
                principal,
                digest,
                until: None,
                expires: false,
            };
            let taken = c.scheme == SchemeConfig::Basic
                && store.basic.contains_key(&(c.plugin.clone(), c.key.clone()));
            if taken || !store.insert(&c.plugin, c.scheme, c.header.as_deref(), &c.key, cred) {
                return Err(err("duplicate credential for this plugin"));
            }
        }
        Ok(store)
    }

    /// Index credentials issued at runtime; one that clashes with an earlier one (another
    /// with the same basic key, or the same token, for the plugin) is left out, logged.
    pub fn issued(list: &[Issued]) -> CredentialStore {
        let mut store = CredentialStore::default();
        for c in list {
            let principal = Principal {
                org: c.org.clone(),
                subject: c.subject.clone(),
                scopes: c.scopes.clone(),
            };
            let mut secrets = vec![(c.digest, c.expires_at, true)];
            if let Some((d, until)) = c.previous {
                secrets.push((d, Some(until), false));
            }
            for (digest, until, expires) in secrets {
                let cred = Credential {
                    principal: principal.clone(),
                    digest,
                    until,
                    expires,
                };
                if !store.insert(&c.plugin, c.scheme, c.header.as_deref(), &c.key, cred) {
                    tracing::warn!(plugin = %c.plugin, key = %c.key, "issued credential clashes with another; left out");
                }
            }
        }
        store
    }

    /// Index one secret; false when it clashes with one already there.
    fn insert(
        &mut self,
        plugin: &str,
        scheme: SchemeConfig,
        header: Option<&str>,
        key: &str,
        cred: Credential,
    ) -> bool {
        let carrier = match scheme {
            SchemeConfig::Basic => {
                let same = self
                    .basic
                    .entry((plugin.to_owned(), key.to_owned()))
                    .or_default();
                if same
                    .iter()
                    .any(|c| c.digest == cred.digest || c.principal != cred.principal)
                {
                    return false;
                }
                same.push(cred);
                return true;
            }
            SchemeConfig::Bearer => Carrier::Bearer,
            SchemeConfig::Header => {
                Carrier::Header(header.unwrap_or_default().to_ascii_lowercase())
            }
        };
        let slot = (plugin.to_owned(), carrier, cred.digest);
        if self.tokens.contains_key(&slot) {
            return false;
        }
        self.tokens.insert(slot, cred);
        true
    }

    /// Accept JWTs for `plugin`, verified by `verifier`.
    pub fn with_jwt(mut self, plugin: &str, verifier: jwt::JwtVerifier) -> CredentialStore {
        self.jwt.insert(plugin.to_owned(), verifier);
        self
    }

    /// Authenticate a request for `plugin`, trying its schemes in manifest order.
    pub fn authenticate(
        &self,
        plugin: &str,
        schemes: &[Scheme],
        headers: &HeaderMap,
    ) -> Result<Principal, AuthError> {
        let authorization = single(headers, http::header::AUTHORIZATION.as_str())?
            .map(|v| v.to_str().map_err(|_| AuthFailure::MalformedEncoding))
            .transpose()?;
        let (auth_scheme, auth_value) = match authorization {
            Some(v) => match v.trim().split_once(' ') {
                Some((s, rest)) => (Some(s.to_ascii_lowercase()), rest.trim()),
                None => (Some(v.trim().to_ascii_lowercase()), ""),
            },
            None => (None, ""),
        };
        let accepts = |want: &str| {
            schemes.iter().any(|s| {
                matches!(
                    (s, want),
                    (Scheme::Bearer, "bearer") | (Scheme::Basic, "basic")
                )
            })
        };
        let mut presented = auth_scheme
            .as_deref()
            .filter(|s| accepts(s))
            .map(|_| "authorization");
        let mut token_header = None;
        for scheme in schemes {
            if let Scheme::Header(name) = scheme
                && let Some(v) = single(headers, name)?
            {
                if let Some(other) = presented.replace(name.as_str()) {
                    tracing::info!(plugin, first = other, second = %name, "two credentials in one request");
                    return Err(AuthError::Ambiguous(name.clone()));
                }
                token_header = Some((name, v));
            }
        }
        if let Some((name, v)) = token_header {
            let token = v.to_str().map_err(|_| AuthFailure::MalformedEncoding)?;
            return Ok(self.token(plugin, Carrier::Header(name.clone()), token.trim())?);
        }
        match auth_scheme.as_deref() {
            Some("bearer") if accepts("bearer") => {
                if auth_value.is_empty() {
                    return Err(AuthFailure::MalformedCredentials.into());
                }
                if let Some(v) = self.jwt.get(plugin)
                    && jwt::looks_like_jwt(auth_value)
                {
                    return Ok(v.verify(auth_value)?);
                }
                Ok(self.token(plugin, Carrier::Bearer, auth_value)?)
            }
            Some("basic") if accepts("basic") => Ok(self.basic(plugin, auth_value)?),
            Some(_) => Err(AuthFailure::UnsupportedScheme.into()),
            None => Err(AuthFailure::Missing.into()),
        }
    }

    fn token(&self, plugin: &str, carrier: Carrier, token: &str) -> Result<Principal, AuthFailure> {
        self.tokens
            .get(&(plugin.to_owned(), carrier, sha256(token.as_bytes())))
            .ok_or(AuthFailure::InvalidCredentials)?
            .valid_at(crate::store::now_micros())
    }

    fn basic(&self, plugin: &str, value: &str) -> Result<Principal, AuthFailure> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| AuthFailure::MalformedEncoding)?;
        let decoded = String::from_utf8(decoded).map_err(|_| AuthFailure::MalformedEncoding)?;
        let (key, secret) = decoded
            .split_once(':')
            .ok_or(AuthFailure::MalformedCredentials)?;
        let presented = sha256(secret.as_bytes());
        self.basic
            .get(&(plugin.to_owned(), key.to_owned()))
            .ok_or(AuthFailure::InvalidCredentials)?
            .iter()
            .find(|c| bool::from(c.digest.ct_eq(&presented)))
            .ok_or(AuthFailure::InvalidCredentials)?
            .valid_at(crate::store::now_micros())
    }
}

#[cfg(test)]
mod tests;
