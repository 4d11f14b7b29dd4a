//! Object storage on the local filesystem and in memory: visibility, aborts, ranges, sweeps.

use super::s3::is_loopback_http;
use super::*;

#[tokio::test]
async fn objects_publish_into_new_directories_and_remember_them() {
    let dir = tempfile::tempdir().unwrap();
    let objects = Objects::open(&format!("file://{}", dir.path().display()), true).unwrap();
    for (id, key) in [("i1", "org/a/b/one.bin"), ("i2", "org/a/b/two.bin")] {
        let mut t = objects.begin(id, key).await.unwrap();
        t.write(Bytes::from_static(b"x")).await.unwrap();
        t.commit().await.unwrap();
        assert_eq!(std::fs::read(dir.path().join(key)).unwrap(), b"x");
    }
    let Backend::Local { root, dirs } = &objects.backend else {
        panic!("local store expected");
    };
    // the directory and its new ancestors are remembered, the store's root always was
    assert!(dirs.known(&root.join("org/a/b")));
    assert!(dirs.known(&root.join("org/a")));
    assert!(dirs.known(root));
    assert!(!dirs.known(&root.join("org/c")));
    // a directory another writer made (here: by hand) is still synced and remembered
    std::fs::create_dir_all(root.join("org/c/d")).unwrap();
    dirs.ensure(&root.join("org/c/d"), true).await.unwrap();
    assert!(dirs.known(&root.join("org/c")) && dirs.known(&root.join("org/c/d")));
}

#[tokio::test]
async fn local_object_is_invisible_until_commit_and_gone_after_abort() {
    let dir = tempfile::tempdir().unwrap();
    let objects = Objects::open(&format!("file://{}", dir.path().display()), true).unwrap();
    let mut t = objects.begin("i1", "org/sys/a.bin").await.unwrap();
    t.write(Bytes::from_static(b"hello ")).await.unwrap();
    t.write(Bytes::from_static(b"world")).await.unwrap();
    assert!(!objects.exists("org/sys/a.bin").await.unwrap());
    t.commit().await.unwrap();
    assert_eq!(
        objects.read_range("org/sys/a.bin", 6..11).await.unwrap(),
        Bytes::from_static(b"world")
    );
    let mut t = objects.begin("i2", "org/sys/b.bin").await.unwrap();
    t.write(Bytes::from_static(b"partial")).await.unwrap();
    t.abort().await;
    assert!(!objects.exists("org/sys/b.bin").await.unwrap());
    let incoming: Vec<_> = std::fs::read_dir(dir.path().join(INCOMING))
        .unwrap()
        .collect();
    assert!(incoming.is_empty(), "temporary files left: {incoming:?}");
}

#[test]
fn plain_http_is_allowed_only_to_loopback() {
    for ok in [
        "http://127.0.0.1:3900",
        "http://127.8.0.1/",
        "http://localhost:9000/x",
        "http://[::1]:3900",
    ] {
        assert!(is_loopback_http(ok), "{ok}");
    }
    for no in [
        "https://127.0.0.1:3900",
        "http://10.0.0.1:3900",
        "http://s3.example.com",
        "http://localhost.example.com",
        "http://[::2]:3900",
    ] {
        assert!(!is_loopback_http(no), "{no}");
    }
}

#[test]
fn s3_urls_need_a_bucket_and_parts_of_at_least_5_mib() {
    let e = Objects::open("s3://", false).unwrap_err();
    assert!(e.to_string().contains("no bucket"), "{e}");
    let cfg = S3Config {
        part_size_bytes: Some(1024),
        ..Default::default()
    };
    let e = Objects::open_with("s3://b/p", false, &cfg).unwrap_err();
    assert!(e.to_string().contains("part_size_bytes"), "{e}");
    assert!(Objects::open("ftp://x", false).is_err());
}

#[tokio::test]
async fn a_failed_gate_discards_the_object_and_start_up_clears_orphaned_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let objects = Objects::open(&format!("file://{}", dir.path().display()), true).unwrap();
    let mut t = objects.begin("i1", "org/sys/a.bin").await.unwrap();
    t.write(Bytes::from_static(b"bytes")).await.unwrap();
    let refused = t
        .commit_after(async { Err(ObjectError::Failed("record not durable".into())) })
        .await;
    assert!(refused.is_err());
    assert!(!objects.exists("org/sys/a.bin").await.unwrap());
    assert!(!dir.path().join(INCOMING).join("i1").exists());
    // a temporary whose ingest record never reached the disk, beside a published object
    let mut t = objects.begin("i2", "org/sys/b.bin").await.unwrap();
    t.write(Bytes::from_static(b"kept")).await.unwrap();
    t.commit_after(async { Ok(()) }).await.unwrap();
    std::fs::write(dir.path().join(INCOMING).join("i3"), b"orphan").unwrap();
    assert_eq!(objects.clear_incoming().await.unwrap(), 1);
    assert!(!dir.path().join(INCOMING).join("i3").exists());
    assert!(objects.exists("org/sys/b.bin").await.unwrap());
    assert_eq!(objects.clear_incoming().await.unwrap(), 0);
}

#[tokio::test]
async fn memory_store_round_trip() {
    let objects = Objects::open("memory://", false).unwrap();
    let mut t = objects.begin("i", "k/x").await.unwrap();
    t.write(Bytes::from(vec![7u8; 10])).await.unwrap();
    t.commit().await.unwrap();
    assert!(objects.exists("k/x").await.unwrap());
    objects.delete("k/x").await.unwrap();
    assert!(!objects.exists("k/x").await.unwrap());
}
