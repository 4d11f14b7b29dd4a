//! Authentication over the configured credentials: each scheme, its failures, ambiguity.

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
        assert_eq!(
            s.authenticate("p", &basic, &headers(&pairs)),
            Err(AuthError::Failed(want))
        );
    }
    // valid credentials for another plugin are invalid here
    let other = s.authenticate(
        "q",
        &basic,
        &headers(&[("authorization", &format!("Basic {}", b64("NETH-1:s3cret")))]),
    );
    assert_eq!(
        other,
        Err(AuthError::Failed(AuthFailure::InvalidCredentials))
    );
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
        Err(AuthError::Failed(AuthFailure::InvalidCredentials))
    );
    // a token is accepted only the way it was issued
    let invalid = Err(AuthError::Failed(AuthFailure::InvalidCredentials));
    assert_eq!(
        s.authenticate(
            "p",
            &schemes,
            &headers(&[("authorization", "Bearer svc-token")])
        ),
        invalid
    );
    assert_eq!(
        s.authenticate("p", &schemes, &headers(&[("sec", "abc")])),
        invalid
    );
}

#[test]
fn two_credentials_in_one_request_are_refused_not_picked_from() {
    let s = store();
    let schemes = [Scheme::Header("sec".into()), Scheme::Bearer];
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let basic_ok = format!("Basic {}", b64("NETH-1:s3cret"));
    let ambiguous = |h: &str| Err(AuthError::Ambiguous(h.into()));
    // the same header twice: valid then invalid, or the other way round
    for pair in [["Bearer abc", "Bearer nope"], ["Bearer nope", "Bearer abc"]] {
        let h = headers(&[("authorization", pair[0]), ("authorization", pair[1])]);
        assert_eq!(
            s.authenticate("p", &schemes, &h),
            ambiguous("authorization")
        );
    }
    let h = headers(&[("authorization", &basic_ok), ("authorization", &basic_ok)]);
    assert_eq!(
        s.authenticate("p", &[Scheme::Basic], &h),
        ambiguous("authorization")
    );
    let h = headers(&[("sec", "svc-token"), ("sec", "svc-token")]);
    assert_eq!(s.authenticate("p", &schemes, &h), ambiguous("sec"));
    // two carriers at once, both valid
    let h = headers(&[("authorization", "Bearer abc"), ("sec", "svc-token")]);
    assert_eq!(s.authenticate("p", &schemes, &h), ambiguous("sec"));
    // an Authorization scheme the plugin does not take is not a second credential
    let h = headers(&[("authorization", &basic_ok), ("sec", "svc-token")]);
    assert_eq!(s.authenticate("p", &schemes, &h).unwrap().subject, "svc");
}
