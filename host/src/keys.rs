//! Names the host gives to stored things: object keys of backups, files of resources that
//! plugins create, and the client-supplied parts of them made safe. Every key is built
//! here, so the layout of the object store is written down once.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::is_key_segment;

/// An id as one object-key or path segment: itself when safe, else a hash of it.
pub fn key_segment(id: &str) -> String {
    if is_key_segment(id) {
        id.to_owned()
    } else {
        format!("h-{}", &hex::encode(Sha256::digest(id.as_bytes()))[..32])
    }
}

/// The object key of a backup: `{org}/{resource}/{backup_id}{extension}`, the resource id
/// made a safe segment (`extension` already checked by [`clean_extension`]).
pub fn backup_key(org: &str, resource_id: &str, backup_id: &str, extension: &str) -> String {
    format!("{org}/{}/{backup_id}{extension}", key_segment(resource_id))
}

/// The file holding the bytes of a resource a plugin created (`resources.create`), under
/// `volumes_dir`: one safe segment each for org, provider, kind and id.
pub fn volume_path(volumes_dir: &Path, org: &str, provider: &str, kind: &str, id: &str) -> PathBuf {
    volumes_dir
        .join(key_segment(org))
        .join(key_segment(provider))
        .join(key_segment(kind))
        .join(key_segment(id))
}

/// `[A-Za-z0-9._-]`, everything else `_`, at most 255 bytes.
pub fn clean_filename(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(255)
        .collect()
}

/// An extension is empty or dot-separated lower-case alphanumerics, at most 16 bytes.
pub fn clean_extension(ext: &str) -> Option<String> {
    if ext.is_empty() {
        return Some(String::new());
    }
    let ok = ext.len() <= 16
        && ext.starts_with('.')
        && ext[1..].split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    ok.then(|| ext.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_and_names() {
        assert_eq!(clean_extension(".tar.gz").as_deref(), Some(".tar.gz"));
        assert_eq!(clean_extension("").as_deref(), Some(""));
        assert_eq!(clean_extension(".."), None);
        assert_eq!(clean_extension("/../x"), None);
        assert_eq!(clean_extension(".TAR"), None);
        assert_eq!(clean_filename("a b/c.tgz"), "a_b_c.tgz");
        assert_eq!(key_segment("NETH-1"), "NETH-1");
        assert!(key_segment("../../etc").starts_with("h-"));
    }

    #[test]
    fn keys_hash_unsafe_segments_and_keep_safe_ones() {
        assert_eq!(
            backup_key("acme", "NETH-1", "b1", ".tgz"),
            "acme/NETH-1/b1.tgz"
        );
        let k = backup_key("acme", "../x", "b1", "");
        assert!(k.starts_with("acme/h-") && k.ends_with("/b1"), "{k}");
        let p = volume_path(Path::new("/v"), "acme", "bycloud", "volume", "a/b");
        let p = p.to_string_lossy();
        assert!(p.starts_with("/v/acme/bycloud/volume/h-"), "{p}");
    }
}
