//! JWT bearer tokens (HS256 with a shared secret, RS256 with configured public keys) for the
//! plugins whose providers issue them. `exp` and `nbf` are honoured; the org comes from a
//! claim and must be a configured org; scopes come from `scope` (space-separated) or
//! `scopes` (array).

use std::collections::HashSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

use super::{AuthFailure, Principal};
use crate::config::JwtConfig;

/// Verifies one plugin's JWTs.
pub struct JwtVerifier {
    hs256: Option<DecodingKey>,
    rs256: Vec<DecodingKey>,
    org_claim: String,
    issuer: Option<String>,
    audience: Option<String>,
    orgs: HashSet<String>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("hs256", &self.hs256.is_some())
            .field("rs256_keys", &self.rs256.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    scope: Option<String>,
    scopes: Option<Vec<String>>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// A looks-like-a-JWT test: three non-empty base64url segments.
pub fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl JwtVerifier {
    /// Build from config; `orgs` are the configured org ids.
    pub fn new(cfg: &JwtConfig, orgs: HashSet<String>) -> Result<JwtVerifier, String> {
        let rs256 = cfg
            .rs256_public_keys
            .iter()
            .map(|pem| {
                DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| format!("bad RS256 public key: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let hs256 = cfg
            .hs256_secret
            .as_ref()
            .map(|s| DecodingKey::from_secret(s.as_bytes()));
        if hs256.is_none() && rs256.is_empty() {
            return Err("jwt needs hs256_secret or rs256_public_keys".into());
        }
        Ok(JwtVerifier {
            hs256,
            rs256,
            org_claim: cfg.org_claim.clone().unwrap_or_else(|| "org".into()),
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            orgs,
        })
    }

    /// Verify a token and turn its claims into a principal.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthFailure> {
        let header = decode_header(token).map_err(|_| AuthFailure::MalformedEncoding)?;
        let keys: Vec<&DecodingKey> = match header.alg {
            Algorithm::HS256 => self.hs256.iter().collect(),
            Algorithm::RS256 => self.rs256.iter().collect(),
            _ => Vec::new(),
        };
        if keys.is_empty() {
            return Err(AuthFailure::InvalidCredentials);
        }
        let mut validation = Validation::new(header.alg);
        validation.validate_nbf = true;
        validation.leeway = 0;
        validation.required_spec_claims = ["exp".to_string()].into_iter().collect();
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
        }
        match &self.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let mut last = AuthFailure::InvalidCredentials;
        for key in keys {
            match decode::<Claims>(token, key, &validation) {
                Ok(data) => return self.principal(data.claims),
                Err(e) => {
                    last = match e.kind() {
                        ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => {
                            AuthFailure::ExpiredCredentials
                        }
                        ErrorKind::InvalidToken
                        | ErrorKind::Base64(_)
                        | ErrorKind::Json(_)
                        | ErrorKind::Utf8(_) => AuthFailure::MalformedEncoding,
                        _ => AuthFailure::InvalidCredentials,
                    };
                    if last == AuthFailure::ExpiredCredentials {
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }

    fn principal(&self, c: Claims) -> Result<Principal, AuthFailure> {
        let org = c
            .rest
            .get(&self.org_claim)
            .and_then(|v| v.as_str())
            .filter(|o| self.orgs.contains(*o))
            .ok_or(AuthFailure::InvalidCredentials)?
            .to_owned();
        let mut scopes: Vec<String> = c.scopes.unwrap_or_default();
        if let Some(s) = c.scope {
            scopes.extend(s.split_whitespace().map(str::to_owned));
        }
        Ok(Principal {
            org,
            subject: c.sub.unwrap_or_else(|| "jwt".into()),
            scopes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    fn verifier() -> JwtVerifier {
        let cfg = JwtConfig {
            hs256_secret: Some("s3cret".into()),
            org_claim: Some("team_id".into()),
            ..Default::default()
        };
        JwtVerifier::new(&cfg, ["acme".to_string()].into_iter().collect()).unwrap()
    }

    fn token(claims: serde_json::Value, secret: &str) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn hs256_claims_become_the_principal() {
        let v = verifier();
        let t = token(
            json!({"sub": "u1", "team_id": "acme", "scope": "backup:read backup:create", "exp": now() + 60}),
            "s3cret",
        );
        assert!(looks_like_jwt(&t));
        let p = v.verify(&t).unwrap();
        assert_eq!((p.org.as_str(), p.subject.as_str()), ("acme", "u1"));
        assert!(p.has_scope("backup:create"));
    }

    #[test]
    fn expiry_not_before_signature_and_org_are_enforced() {
        let v = verifier();
        let expired = token(json!({"team_id": "acme", "exp": now() - 10}), "s3cret");
        assert_eq!(v.verify(&expired), Err(AuthFailure::ExpiredCredentials));
        let early = token(
            json!({"team_id": "acme", "exp": now() + 60, "nbf": now() + 30}),
            "s3cret",
        );
        assert_eq!(v.verify(&early), Err(AuthFailure::ExpiredCredentials));
        let forged = token(json!({"team_id": "acme", "exp": now() + 60}), "other");
        assert_eq!(v.verify(&forged), Err(AuthFailure::InvalidCredentials));
        let stranger = token(json!({"team_id": "globex", "exp": now() + 60}), "s3cret");
        assert_eq!(v.verify(&stranger), Err(AuthFailure::InvalidCredentials));
        assert_eq!(v.verify("a.b.c"), Err(AuthFailure::MalformedEncoding));
        assert!(!looks_like_jwt("tokid:teamid:secret"));
    }
}
