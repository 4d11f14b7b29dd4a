//! Credential store and authentication: bearer tokens (opaque, or JWTs where a plugin has a
//! verifier — see [`jwt`]), HTTP Basic key/secret pairs and tokens in a named header, each
//! valid for one plugin and one org. Secrets are kept only as SHA-256 digests; a plugin
//! receives the resulting [`Principal`], never a secret.

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

type Digest32 = [u8; 32];

#[derive(Debug)]
struct Credential {
    principal: Principal,
    digest: Digest32,
}

/// Every configured credential, indexed for lookup; built once at start-up.
#[derive(Debug, Default)]
pub struct CredentialStore {
    /// (plugin, sha256(token)) for bearer and header tokens.
    tokens: HashMap<(String, Digest32), Credential>,
    /// (plugin, key) for basic credentials.
    basic: HashMap<(String, String), Credential>,
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
            let cred = Credential { principal, digest };
            let dup = match c.scheme {
                SchemeConfig::Basic => store
                    .basic
                    .insert((c.plugin.clone(), c.key.clone()), cred)
                    .is_some(),
                SchemeConfig::Bearer | SchemeConfig::Header => store
                    .tokens
                    .insert((c.plugin.clone(), digest), cred)
                    .is_some(),
            };
            if dup {
                return Err(err("duplicate credential for this plugin"));
            }
        }
        Ok(store)
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
    ) -> Result<Principal, AuthFailure> {
        let authorization = headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().map_err(|_| AuthFailure::MalformedEncoding))
            .transpose()?;
        let (auth_scheme, auth_value) = match authorization {
            Some(v) => match v.trim().split_once(' ') {
                Some((s, rest)) => (Some(s.to_ascii_lowercase()), rest.trim()),
                None => (Some(v.trim().to_ascii_lowercase()), ""),
            },
            None => (None, ""),
        };
        for scheme in schemes {
            match scheme {
                Scheme::Header(name) => {
                    if let Some(v) = headers.get(name.as_str()) {
                        let token = v.to_str().map_err(|_| AuthFailure::MalformedEncoding)?;
                        return self.token(plugin, token.trim());
                    }
                }
                Scheme::Bearer if auth_scheme.as_deref() == Some("bearer") => {
                    if auth_value.is_empty() {
                        return Err(AuthFailure::MalformedCredentials);
                    }
                    if let Some(v) = self.jwt.get(plugin)
                        && jwt::looks_like_jwt(auth_value)
                    {
                        return v.verify(auth_value);
                    }
                    return self.token(plugin, auth_value);
                }
                Scheme::Basic if auth_scheme.as_deref() == Some("basic") => {
                    return self.basic(plugin, auth_value);
                }
                _ => {}
            }
        }
        Err(if authorization.is_some() {
            AuthFailure::UnsupportedScheme
        } else {
            AuthFailure::Missing
        })
    }

    fn token(&self, plugin: &str, token: &str) -> Result<Principal, AuthFailure> {
        self.tokens
            .get(&(plugin.to_owned(), sha256(token.as_bytes())))
            .map(|c| c.principal.clone())
            .ok_or(AuthFailure::InvalidCredentials)
    }

    fn basic(&self, plugin: &str, value: &str) -> Result<Principal, AuthFailure> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| AuthFailure::MalformedEncoding)?;
        let decoded = String::from_utf8(decoded).map_err(|_| AuthFailure::MalformedEncoding)?;
        let (key, secret) = decoded
            .split_once(':')
            .ok_or(AuthFailure::MalformedCredentials)?;
        let cred = self
            .basic
            .get(&(plugin.to_owned(), key.to_owned()))
            .ok_or(AuthFailure::InvalidCredentials)?;
        if bool::from(cred.digest.ct_eq(&sha256(secret.as_bytes()))) {
            Ok(cred.principal.clone())
        } else {
            Err(AuthFailure::InvalidCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn store() -> CredentialStore {
        let toml = r#"
[[orgs]]
id = "acme"
[[credentials]]
org = "acme"
plugin = "p"
scheme = "basic"
key = "NETH-1"
secret = "s3cret"
[[credentials]]
org = "acme"
plugin = "p"
scheme = "bearer"
key = "tok"
secret_sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
scopes = ["read"]
[[credentials]]
org = "acme"
plugin = "p"
scheme = "header"
header = "sec"
key = "svc"
secret = "svc-token"
"#;
        let c = crate::config::Config::from_toml(toml).unwrap();
        CredentialStore::new(&c.credentials).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn basic_paths() {
        let s = store();
        let basic = [Scheme::Basic];
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let ok = s.authenticate(
            "p",
            &basic,
            &headers(&[("authorization", &format!("Basic {}", b64("NETH-1:s3cret")))]),
        );
        assert_eq!(ok.unwrap().subject, "NETH-1");
        let cases = [
            (vec![], AuthFailure::Missing),
            (
                vec![("authorization", "Bearer x".to_string())],
                AuthFailure::UnsupportedScheme,
            ),
            (
                vec![("authorization", "Basic !!!".to_string())],
                AuthFailure::MalformedEncoding,
            ),
            (
                vec![("authorization", format!("Basic {}", b64("nocolon")))],
                AuthFailure::MalformedCredentials,
            ),
            (
                vec![("authorization", format!("Basic {}", b64("NETH-1:wrong")))],
                AuthFailure::InvalidCredentials,
            ),
        ];
        for (h, want) in cases {
            let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(s.authenticate("p", &basic, &headers(&pairs)), Err(want));
        }
        // valid credentials for another plugin are invalid here
        let other = s.authenticate(
            "q",
            &basic,
            &headers(&[("authorization", &format!("Basic {}", b64("NETH-1:s3cret")))]),
        );
        assert_eq!(other, Err(AuthFailure::InvalidCredentials));
    }

    #[test]
    fn bearer_and_header_tokens() {
        let s = store();
        let schemes = [Scheme::Header("sec".into()), Scheme::Bearer];
        let p = s
            .authenticate("p", &schemes, &headers(&[("authorization", "Bearer abc")]))
            .unwrap();
        assert!(p.has_scope("read"));
        let p = s
            .authenticate("p", &schemes, &headers(&[("sec", "svc-token")]))
            .unwrap();
        assert_eq!(p.org, "acme");
        assert_eq!(
            s.authenticate("p", &schemes, &headers(&[("sec", "nope")])),
            Err(AuthFailure::InvalidCredentials)
        );
    }
}
