//! What the operations read from the host about a site — the site itself, its backups
//! newest first, a backup's bytes in 1 MiB reads — over the SDK's [`Host`].

use backup_gateway_sdk::{
    ByteRange, Host, HostError, backups::Backup, paging, resources::Resource,
};

/// Resource kind of an Altostrat site; its id is the site UUID.
pub const SITE_KIND: &str = "site";

/// Most bytes one `backups.read` returns.
pub const READ_CHUNK: u64 = 1024 * 1024;

/// A failed host call, logged into the host's trace (clients see only the provider's wording).
pub fn logged(host: &impl Host, what: &str, e: HostError) -> HostError {
    host.warn(&format!("{what} failed: {e:?}"));
    e
}

/// The site a path's `siteId` names, if the caller's org has it. UUIDs are compared without
/// regard to case: the lower-case form is tried first, then the id as given. A failed
/// lookup is logged and returned (an outage is no missing site).
pub fn find_site(host: &impl Host, site_id: &str) -> Result<Option<Resource>, HostError> {
    let lookup = |id: &str| {
        host.resource(SITE_KIND, id)
            .map_err(|e| logged(host, &format!("reading site {id}"), e))
    };
    let lower = site_id.to_ascii_lowercase();
    match lookup(&lower)? {
        None if lower != site_id => lookup(site_id),
        found => Ok(found),
    }
}

/// Whether a backup belongs to the site (the host filters already; this guards the listing).
fn of_site(backup: &Backup, site: &Resource) -> bool {
    backup.resource_kind == SITE_KIND && backup.resource_id == site.id
}

/// Visit the site's backups newest first, page by page, until `visit` returns `false` or
/// none are left. The first host error ends the walk.
fn walk_backups(
    host: &impl Host,
    site: &Resource,
    mut visit: impl FnMut(Backup) -> bool,
) -> Result<(), HostError> {
    let query = paging::backups_of(SITE_KIND, Some(&site.id), true);
    paging::walk_backups(host, &query, |backup| {
        !of_site(&backup, site) || visit(backup)
    })
    .map_err(|e| logged(host, "listing backups", e))
}

/// Every backup of the site, newest first.
pub fn site_backups(host: &impl Host, site: &Resource) -> Result<Vec<Backup>, HostError> {
    let query = paging::backups_of(SITE_KIND, Some(&site.id), true);
    let mut all =
        paging::all_backups(host, &query).map_err(|e| logged(host, "listing backups", e))?;
    all.retain(|b| of_site(b, site));
    Ok(all)
}

/// The site's newest backup named `filename`. Names are unique ([`crate::names`]); only
/// backups taken before names were reserved can share one, and then the newer one wins.
pub fn find_backup(
    host: &impl Host,
    site: &Resource,
    filename: &str,
) -> Result<Option<Backup>, HostError> {
    let mut found = None;
    walk_backups(host, site, |b| {
        if b.filename == filename {
            found = Some(b);
            false
        } else {
            true
        }
    })?;
    Ok(found)
}

/// The site's newest backup.
pub fn latest_backup(host: &impl Host, site: &Resource) -> Result<Option<Backup>, HostError> {
    let mut latest = None;
    walk_backups(host, site, |b| {
        latest = Some(b);
        false
    })?;
    Ok(latest)
}

/// Why a backup's bytes could not be loaded.
#[derive(Debug, Clone)]
pub enum LoadError {
    /// The backup is larger than the caller's limit (nothing was read).
    TooLarge,
    /// A host call failed.
    Host(HostError),
}

/// A backup's bytes, read in [`READ_CHUNK`] pieces, if its recorded size is at most `limit`.
/// A read that returns nothing ends early (the object is shorter than its record).
pub fn load(host: &impl Host, backup: &Backup, limit: u64) -> Result<Vec<u8>, LoadError> {
    if backup.size > limit {
        return Err(LoadError::TooLarge);
    }
    let size = backup.size;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    while (bytes.len() as u64) < size {
        let offset = bytes.len() as u64;
        let chunk = host
            .read_backup(
                &backup.id,
                ByteRange {
                    offset,
                    length: Some(READ_CHUNK.min(size - offset)),
                },
            )
            .map_err(|e| {
                LoadError::Host(logged(host, &format!("reading backup {}", backup.id), e))
            })?;
        if chunk.is_empty() {
            break;
        }
        let room = usize::try_from(size - offset).unwrap_or(usize::MAX);
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok(bytes)
}
