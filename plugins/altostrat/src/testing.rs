//! Test support: Altostrat's fixtures (sites, backups named `<unix>.rsc`) and the SDK's fake
//! host seeded with them.

use backup_gateway_sdk::{backups::Backup, resources::Resource, testing::FakeHost};

use crate::store::SITE_KIND;

/// A site UUID used throughout the tests.
pub const SITE: &str = "a1b2c3d4-e5f6-7890-1234-567890abcdef";
/// A site of the same org with no backups.
pub const EMPTY_SITE: &str = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";

/// The fake host with two sites ([`SITE`] and [`EMPTY_SITE`]), no backups.
pub fn two_sites() -> FakeHost {
    let host = FakeHost::new();
    host.add_resource(site(SITE));
    host.add_resource(site(EMPTY_SITE));
    host
}

/// The host id of backup number `seq`.
pub fn backup_id(seq: u64) -> String {
    format!("01934fab-bc33-7890-a1b2-{seq:012x}")
}

/// Seeding the fake host with site backups.
pub trait WithBackup {
    /// Add a backup of `site` taken at `unix` seconds with this content.
    fn with_backup(self, site: &str, unix: u64, content: &[u8]) -> FakeHost;
}

impl WithBackup for FakeHost {
    fn with_backup(self, site: &str, unix: u64, content: &[u8]) -> FakeHost {
        let seq = self.stored_backups().len() as u64 + 1;
        self.add_backup_with_content(backup(seq, site, unix, content.len() as u64), content);
        self
    }
}

/// A site resource with a capture source.
pub fn site(id: &str) -> Resource {
    Resource {
        kind: SITE_KIND.into(),
        id: id.into(),
        name: "HQ".into(),
        state: "active".into(),
        attributes: "{}".into(),
        has_source: true,
        created_at: 1_700_000_000_000_000,
    }
}

/// Backup number `seq` of `site`, named `<unix>.rsc`, created 2.5 s after `unix`.
pub fn backup(seq: u64, site: &str, unix: u64, size: u64) -> Backup {
    Backup {
        id: backup_id(seq),
        seq,
        resource_kind: SITE_KIND.into(),
        resource_id: site.into(),
        filename: format!("{unix}.rsc"),
        extension: ".rsc".into(),
        media_type: "text/plain".into(),
        size,
        stored_bytes: size,
        sha256: "0".repeat(64),
        created_at: unix * 1_000_000 + 2_500_000,
        subject: "token-1".into(),
        job_id: None,
        metadata: "{}".into(),
    }
}
