//! Backup filenames: `<unix seconds>.rsc`, unique per site.
//!
//! The filename is the backup's ID ("typically a UNIX timestamp with an `.rsc` extension"),
//! so two backups of a site must never share one. A backup is named after the second its
//! request was received, unless the site already has a name for that second or a later one:
//! then it takes the second after the last name issued. Names stay UNIX timestamps in the
//! provider's format, increase in request order, and run ahead of the clock only while a
//! site is asked for more than one backup a second.
//!
//! The last second issued is kept per site in the `filenames/<site id>` document, updated
//! with a compare-and-swap, so racing requests (on any node) never get the same name. A site
//! with no such document yet (backups taken before it existed) starts after its newest
//! backup's name.

use backup_gateway_sdk::{Host, HostError, resources::Resource};
use serde_json::{Value, json};

use crate::errors::{ApiError, Code};
use crate::store;

/// Document collection of the last second named, per site.
pub const COLLECTION: &str = "filenames";

/// Compare-and-swap attempts before a request gives up (409).
const ATTEMPTS: usize = 8;

/// The filename of a second.
pub fn filename(seconds: u64) -> String {
    format!("{seconds}.rsc")
}

/// The second a `<digits>.rsc` filename names, if it is one.
pub fn seconds_of(filename: &str) -> Option<u64> {
    let digits = filename.strip_suffix(".rsc")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Reserve the next filename of `site` for a request received at `received_at` (µs).
pub fn reserve(host: &impl Host, site: &Resource, received_at: u64) -> Result<String, ApiError> {
    let wanted = received_at / 1_000_000;
    let on_host_error = |e: &HostError| ApiError::from_host(e, ApiError::site_not_found(&site.id));
    for _ in 0..ATTEMPTS {
        let (last, revision) = match host.document(COLLECTION, &site.id) {
            Ok(Some(doc)) => (last_of(&doc.value), doc.revision),
            Ok(None) => (newest_name(host, site).map_err(|e| on_host_error(&e))?, 0),
            Err(e) => {
                let what = format!("reading document {COLLECTION}/{}", site.id);
                return Err(on_host_error(&store::logged(host, &what, e)));
            }
        };
        let seconds = match last {
            Some(last) if last >= wanted => last.saturating_add(1),
            _ => wanted,
        };
        let value = json!({ "last": seconds }).to_string();
        match host.put_document(COLLECTION, &site.id, &value, Some(revision)) {
            Ok(_) => return Ok(filename(seconds)),
            Err(HostError::Conflict(_)) => continue,
            Err(e) => {
                let e = store::logged(
                    host,
                    &format!("writing document {COLLECTION}/{}", site.id),
                    e,
                );
                return Err(on_host_error(&e));
            }
        }
    }
    Err(ApiError::new(
        Code::Conflict,
        format!(
            "Too many backups of site '{}' were requested at once. Try again.",
            site.id
        ),
    ))
}

/// The last second named in a `filenames` document.
fn last_of(value: &str) -> Option<u64> {
    serde_json::from_str::<Value>(value).ok()?["last"].as_u64()
}

/// The second the site's newest backup is named after, if it has one in that format.
fn newest_name(host: &impl Host, site: &Resource) -> Result<Option<u64>, HostError> {
    Ok(store::latest_backup(host, site)?.and_then(|b| seconds_of(&b.filename)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{SITE, WithBackup, site, two_sites};
    use backup_gateway_sdk::testing::Import;

    const T: u64 = 1_732_567_800;

    fn at(seconds: u64) -> u64 {
        seconds * 1_000_000 + 750_000
    }

    #[test]
    fn filenames_round_trip() {
        assert_eq!(filename(T), "1732567800.rsc");
        assert_eq!(seconds_of("1732567800.rsc"), Some(T));
        for other in [
            "",
            ".rsc",
            "x.rsc",
            "1732567800",
            "17325678 0.rsc",
            "-1.rsc",
            "1.RSC",
        ] {
            assert_eq!(seconds_of(other), None, "{other}");
        }
    }

    #[test]
    fn the_same_second_gets_the_next_free_one() {
        let host = two_sites();
        let s = site(SITE);
        assert_eq!(reserve(&host, &s, at(T)).ok(), Some(filename(T)));
        assert_eq!(reserve(&host, &s, at(T)).ok(), Some(filename(T + 1)));
        assert_eq!(reserve(&host, &s, at(T)).ok(), Some(filename(T + 2)));
        // A request of a later second than the last name takes its own second.
        assert_eq!(reserve(&host, &s, at(T + 10)).ok(), Some(filename(T + 10)));
        // An earlier one (a slow node clock) still gets a new name.
        assert_eq!(reserve(&host, &s, at(T + 5)).ok(), Some(filename(T + 11)));
        // Sites count apart.
        let other = site(crate::testing::EMPTY_SITE);
        assert_eq!(reserve(&host, &other, at(T)).ok(), Some(filename(T)));
    }

    #[test]
    fn a_site_with_older_backups_starts_after_its_newest_name() {
        let host = two_sites()
            .with_backup(SITE, T - 100, b"a")
            .with_backup(SITE, T, b"b");
        let s = site(SITE);
        assert_eq!(reserve(&host, &s, at(T)).ok(), Some(filename(T + 1)));
        let host = two_sites().with_backup(SITE, T - 100, b"a");
        assert_eq!(reserve(&host, &s, at(T)).ok(), Some(filename(T)));
    }

    #[test]
    fn a_lost_race_tries_again_and_gives_up_with_409() {
        let host = two_sites();
        let s = site(SITE);
        host.fail_next(
            Import::DocumentsPut,
            3,
            HostError::Conflict("revision mismatch".into()),
        );
        assert_eq!(reserve(&host, &s, at(T)).ok(), Some(filename(T)));
        host.fail_next(
            Import::DocumentsPut,
            ATTEMPTS,
            HostError::Conflict("revision mismatch".into()),
        );
        let e = reserve(&host, &s, at(T)).expect_err("gives up");
        assert_eq!(e.code, Code::Conflict);
        assert!(e.message.contains("Try again"), "{}", e.message);
        // Any other host failure is the host's error, not a name.
        let host = two_sites();
        host.fail_always(Import::BackupsList, HostError::Unavailable);
        let e = reserve(&host, &s, at(T)).expect_err("unavailable");
        assert_eq!(e.code, Code::ServiceUnavailable);
    }
}
