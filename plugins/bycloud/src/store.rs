//! What the handlers read from the host about volumes (resources of kind `volume`) and their
//! stored backups, over the SDK's [`Host`], and how a failed read is answered.

use backup_gateway_sdk::{Host, HostError, backups::Backup, paging, resources::Resource};

use crate::errors::ApiError;

/// Resource kind of every ByCloud volume.
pub const VOLUME_KIND: &str = "volume";

/// A failed host call, logged (clients see only ByCloud's wording) and answered as the host
/// error it was: an outage is ByCloud's 503.
pub fn failed(store: &impl Host, what: &str, e: &HostError) -> ApiError {
    store.warn(&format!("{what} failed: {e:?}"));
    ApiError::from_host(e)
}

/// The volume `id`; 404 when the caller's org has none.
pub fn find_volume(store: &impl Host, id: &str) -> Result<Resource, ApiError> {
    store
        .resource(VOLUME_KIND, id)
        .map_err(|e| failed(store, &format!("reading volume {id}"), &e))?
        .ok_or_else(|| ApiError::volume_not_found(id))
}

/// Every stored backup of a volume (any volume when `volume` is `None`), oldest first,
/// paging through the host's cap. The first host error ends the listing.
pub fn volume_backups(store: &impl Host, volume: Option<&str>) -> Result<Vec<Backup>, HostError> {
    paging::all_backups(store, &paging::backups_of(VOLUME_KIND, volume, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::stored_backup;
    use backup_gateway_sdk::testing::{FakeHost, Import};

    #[test]
    fn volume_backups_pages_and_filters() {
        let store = FakeHost::new();
        store.set_page_cap(3);
        for i in 0..7 {
            store.add_backup(stored_backup(&format!("b{i}"), "vol-a", 10, 10));
        }
        store.add_backup(stored_backup("other", "vol-b", 10, 10));
        assert_eq!(
            volume_backups(&store, Some("vol-a")).expect("listed").len(),
            7
        );
        assert_eq!(volume_backups(&store, None).expect("listed").len(), 8);
        store.fail_always(Import::BackupsList, HostError::Unavailable);
        assert!(matches!(
            volume_backups(&store, None),
            Err(HostError::Unavailable)
        ));
    }
}
