//! A gateway process killed with SIGKILL in the middle of an upload, then restarted on the
//! same data: no partial object is visible, the temporary file is gone, and the quota equals
//! the sum of the visible backups.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use gateway_tests::{GatewayProcess, provider_plugin};

const AUTH: (&str, &str) = ("NETH-K1", "kill-secret");

#[tokio::test]
async fn sigkill_mid_upload_leaves_no_partial_object_and_exact_quota() {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        r#"{org}
[[credentials]]
org = "acme"
plugin = "appliance-collect"
scheme = "basic"
key = "{key}"
secret = "{secret}"
"#,
        org = super::ORG,
        key = AUTH.0,
        secret = AUTH.1
    );
    let mut gw = GatewayProcess::start(dir.path(), &[provider_plugin("appliance_collect")], &extra)
        .await
        .unwrap();
    let (url, port) = (gw.url.clone(), gw.port);
    let client = reqwest::Client::new();

    // one complete backup, which must survive
    let kept = client
        .post(format!("{url}/api/systems/backups"))
        .basic_auth(AUTH.0, Some(AUTH.1))
        .body(vec![1u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 201);
    let kept: Value = kept.json().await.unwrap();

    // a 64 MiB upload cut off after 8 MiB by killing the server
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", AUTH.0, AUTH.1));
    let head = format!(
        "POST /api/systems/backups HTTP/1.1\r\nhost: x\r\nauthorization: Basic {auth}\r\ncontent-length: {}\r\n\r\n",
        64 * 1024 * 1024
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![2u8; 8 * 1024 * 1024]).await.unwrap();
    s.flush().await.unwrap();
    let incoming = dir.path().join("objects/.incoming");
    for _ in 0..200 {
        if std::fs::read_dir(&incoming).unwrap().count() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        std::fs::read_dir(&incoming).unwrap().count(),
        1,
        "the upload is in flight"
    );
    gw.kill().unwrap(); // SIGKILL
    drop(s);

    gw.restart().await.unwrap();
    let page: Value = client
        .get(format!("{url}/api/systems/backups"))
        .basic_auth(AUTH.0, Some(AUTH.1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let backups = page["data"]["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{page}");
    assert_eq!(backups[0]["id"], kept["data"]["id"]);
    assert_eq!(
        std::fs::read_dir(&incoming).unwrap().count(),
        0,
        "temporary object reclaimed"
    );
    let visible: u64 = walk(&dir.path().join("objects/acme"));
    assert_eq!(
        visible, 4096,
        "only the complete backup's bytes are visible"
    );
    let db = backup_gateway::store::Db::connect(
        &format!("sqlite://{}/gateway.db", dir.path().display()),
        Some(1),
    )
    .await
    .unwrap();
    assert_eq!(
        db.scoped("acme", "appliance-collect")
            .usage()
            .await
            .unwrap(),
        (4096, 0)
    );
}

/// Total bytes of the files below `dir`.
fn walk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        walk(&p)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
