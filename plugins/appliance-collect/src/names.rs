//! The collect service's naming rules: user-facing filenames from `X-Filename`, the key
//! extension detected from a filename, and the provider-visible backup id
//! (`<uuidv7><extension>`) that download and delete take as a path parameter.
//!
//! Everything here is pure, so it is tested natively below.

use std::borrow::Cow;

/// Longest filename kept, in bytes (after sanitising every byte is ASCII).
const MAX_FILENAME_LEN: usize = 255;

/// The extensions a filename maps to and an id may carry, lower-case; compound ones first so
/// they win over a shorter suffix.
const KNOWN_EXTENSIONS: [&str; 6] = [".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst", ".gpg", ".bin"];

/// What every other filename maps to.
const FALLBACK_EXTENSION: &str = ".bin";

/// How an upload is named: the user-facing filename and the key extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadName {
    /// The sanitised filename to record.
    pub filename: String,
    /// The key extension, detected before truncation so a long name keeps its real type.
    pub extension: &'static str,
}

impl UploadName {
    /// Name an upload from its `X-Filename` header: any path prefix (`/` or `\`) stripped, then
    /// sanitised. With no header, or nothing left after stripping, the name is
    /// `backup-<backup_id>` (the id the host gives the backup, as the reference does).
    pub fn from_header(header: Option<&str>, backup_id: &str) -> UploadName {
        let base = header.map(strip_path).unwrap_or_default();
        let raw = if base.is_empty() {
            Cow::Owned(format!("backup-{backup_id}"))
        } else {
            Cow::Borrowed(base)
        };
        UploadName {
            filename: sanitize_filename(&raw),
            extension: detect_extension(&raw),
        }
    }
}

/// The last path component of a header value, surrounding whitespace removed.
fn strip_path(raw: &str) -> &str {
    let trimmed = raw.trim();
    match trimmed.rfind(['/', '\\']) {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

/// Replace each character outside `[A-Za-z0-9._-]` with `_` and truncate to 255 characters, so
/// the name is safe in a `Content-Disposition` header and in logs.
pub fn sanitize_filename(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_FILENAME_LEN)
        .collect()
}

/// The key extension for a filename, case-insensitive: a compound `.tar.*` one, else `.gpg` or
/// `.bin`; any other name gives `.bin` (so `dump.json.gz.gpg` gives `.gpg`).
pub fn detect_extension(filename: &str) -> &'static str {
    let lower = filename.to_ascii_lowercase();
    KNOWN_EXTENSIONS
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .copied()
        .unwrap_or(FALLBACK_EXTENSION)
}

/// A provider-visible backup id that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupId {
    /// The UUIDv7 part, lower-case: the host's backup id.
    pub uuid: String,
    /// The extension part, lower-case, when one was given.
    pub extension: Option<&'static str>,
}

impl BackupId {
    /// Parse `<uuidv7>[<extension>]`, case-insensitive. The UUID must be hyphenated with version
    /// nibble 7 and variant 8–b; the extension, if any, one of those [`detect_extension`] yields.
    pub fn parse(id: &str) -> Option<BackupId> {
        let uuid = id.get(..36)?;
        let rest = id.get(36..)?;
        if !is_uuid_v7(uuid) {
            return None;
        }
        let extension = if rest.is_empty() {
            None
        } else {
            let lower = rest.to_ascii_lowercase();
            let known = KNOWN_EXTENSIONS.iter().find(|ext| **ext == lower)?;
            Some(*known)
        };
        Some(BackupId {
            uuid: uuid.to_ascii_lowercase(),
            extension,
        })
    }

    /// Whether this id names a backup stored with `extension`: an id without an extension names
    /// it by UUID alone; one with an extension must carry the stored one.
    pub fn matches_extension(&self, extension: &str) -> bool {
        self.extension.is_none_or(|ext| ext == extension)
    }
}

/// Whether `s` is a hyphenated UUID (any hex case) with version 7 and an RFC 4122 variant.
fn is_uuid_v7(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
        && bytes[14] == b'7'
        && matches!(bytes[19].to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b')
}

#[cfg(test)]
mod tests {
    use super::*;

    const V7: &str = "01934fab-bc33-7890-a1b2-c3d4e5f6a7b8";

    /// The backup id passed where a header names the upload (it must not show up in the name).
    const UNUSED_ID: &str = "01934fab-0000-7000-8000-000000000000";

    #[test]
    fn filename_strips_path_prefixes() {
        let name = |h: &str| UploadName::from_header(Some(h), UNUSED_ID).filename;
        assert_eq!(name("/etc/x/daily.tar.gz"), "daily.tar.gz");
        assert_eq!(name(r"C:\dumps\a.gpg"), "a.gpg");
        assert_eq!(name("a/b\\c/../d.bin"), "d.bin");
        assert_eq!(name("  plain.gpg  "), "plain.gpg");
        assert_eq!(name("../../etc/passwd"), "passwd");
    }

    #[test]
    fn filename_replaces_unsafe_characters() {
        assert_eq!(
            sanitize_filename("my backup (1).tar.gz"),
            "my_backup__1_.tar.gz"
        );
        assert_eq!(sanitize_filename("a\"b\r\nc;d"), "a_b__c_d");
        // One underscore per character, not per byte.
        assert_eq!(sanitize_filename("café.gpg"), "caf_.gpg");
        assert_eq!(sanitize_filename("Ok-name_1.2"), "Ok-name_1.2");
    }

    #[test]
    fn filename_is_truncated_to_255() {
        let long = "x".repeat(300) + ".tar.gz";
        assert_eq!(sanitize_filename(&long).len(), 255);
        // The extension comes from the whole name, not the truncated one.
        let named = UploadName::from_header(Some(&long), UNUSED_ID);
        assert_eq!(named.filename, "x".repeat(255));
        assert_eq!(named.extension, ".tar.gz");
        let wide = "é".repeat(300);
        assert_eq!(sanitize_filename(&wide), "_".repeat(255));
    }

    #[test]
    fn filename_falls_back_to_backup_id() {
        let expected = format!("backup-{V7}");
        for header in [None, Some(""), Some("   "), Some("dir/")] {
            let named = UploadName::from_header(header, V7);
            assert_eq!(named.filename, expected, "{header:?}");
            assert_eq!(named.extension, ".bin");
        }
    }

    #[test]
    fn extension_detection() {
        let cases = [
            ("daily-backup-2026-04-12.tar.gz", ".tar.gz"),
            ("X.TAR.GZ", ".tar.gz"),
            ("a.tar.xz", ".tar.xz"),
            ("a.Tar.Bz2", ".tar.bz2"),
            ("a.tar.zst", ".tar.zst"),
            ("dump.json.gz.gpg", ".gpg"),
            ("daily.tar.gz.gpg", ".gpg"),
            ("KEY.GPG", ".gpg"),
            ("blob.bin", ".bin"),
            ("dump.json", ".bin"),
            ("a.gz", ".bin"),
            ("noext", ".bin"),
            ("trailing.", ".bin"),
            ("", ".bin"),
            ("tar.gz", ".bin"),
        ];
        for (name, ext) in cases {
            assert_eq!(detect_extension(name), ext, "{name}");
        }
    }

    #[test]
    fn valid_ids_parse() {
        let plain = BackupId::parse(V7).expect("plain v7");
        assert_eq!(plain.uuid, V7);
        assert_eq!(plain.extension, None);

        let upper = BackupId::parse("01934FAB-BC33-7890-A1B2-C3D4E5F6A7B8.TAR.GZ").expect("upper");
        assert_eq!(upper.uuid, V7);
        assert_eq!(upper.extension, Some(".tar.gz"));

        for variant in ['8', '9', 'a', 'b', 'A', 'B'] {
            let id = format!("01934fab-bc33-7890-{variant}1b2-c3d4e5f6a7b8.gpg");
            assert!(BackupId::parse(&id).is_some(), "{id}");
        }
        for ext in [".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst", ".gpg", ".bin"] {
            assert_eq!(
                BackupId::parse(&format!("{V7}{ext}")).and_then(|id| id.extension),
                Some(ext)
            );
        }
    }

    #[test]
    fn invalid_ids_are_refused() {
        let cases = [
            "",
            "not-a-uuid",
            "01934fab-bc33-4890-a1b2-c3d4e5f6a7b8", // version 4
            "01934fab-bc33-7890-c1b2-c3d4e5f6a7b8", // variant c
            "01934fab-bc33-7890-71b2-c3d4e5f6a7b8", // variant 7
            "01934fabbc337890a1b2c3d4e5f6a7b8",     // no hyphens
            "01934fab-bc33-7890-a1b2-c3d4e5f6a7b",  // short
            "01934fab-bc33-7890-a1b2-c3d4e5f6a7b8f", // long
            "01934fag-bc33-7890-a1b2-c3d4e5f6a7b8", // not hex
            "01934fab-bc33-7890-a1b2-c3d4e5f6a7b8.json", // unknown extension
            "01934fab-bc33-7890-a1b2-c3d4e5f6a7b8.gz",
            "01934fab-bc33-7890-a1b2-c3d4e5f6a7b8.gpg.gpg",
            "01934fab-bc33-7890-a1b2-c3d4e5f6a7b8.",
            "01934fab-bc33-7890-a1b2-c3d4e5f6a7b8/../x",
            "../01934fab-bc33-7890-a1b2-c3d4e5f6a7b8",
            "01934fab-bc33-7890-a1b2-c3d4e5f6a7b8 ",
            "01934fab-bc33-7890-a1b2-c3d4e5f6a7é", // multi-byte at the boundary
            "éé934fab-bc33-7890-a1b2-c3d4e5f6a7b8",
        ];
        for id in cases {
            assert_eq!(BackupId::parse(id), None, "{id:?}");
        }
    }

    #[test]
    fn extension_must_match_when_given() {
        let bare = BackupId::parse(V7).expect("bare");
        assert!(bare.matches_extension(".tar.gz"));
        let gz = BackupId::parse(&format!("{V7}.TAR.GZ")).expect("gz");
        assert!(gz.matches_extension(".tar.gz"));
        assert!(!gz.matches_extension(".gpg"));
    }
}
