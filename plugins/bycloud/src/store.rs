//! What the handlers read from the host about volumes (resources of kind `volume`) and their
//! stored backups, over the SDK's [`Host`].

use backup_gateway_sdk::{Host, HostError, backups::Backup, paging};

/// Resource kind of every ByCloud volume.
pub const VOLUME_KIND: &str = "volume";

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
