//! The imports of `provider@1.0.0`, over the 1.1 ones: each converts its arguments, calls the
//! 1.1 import and converts the result back. A 1.0 read keeps 1.0's meaning — a failure is
//! "none", an empty list or sequence 0 — since a 1.0 plugin has no way to hear otherwise.

use super::InstanceState;
use crate::plugins::bindings::convert::Conv;
use crate::plugins::bindings::v1_0::{backups, clock, documents, ids, jobs, log, resources, types};
use crate::plugins::bindings::{self as current};

type Res<T> = Result<T, types::HostError>;

impl types::Host for InstanceState {}

impl resources::Host for InstanceState {
    fn get(&mut self, kind: String, id: String) -> Option<resources::Resource> {
        let found = current::resources::Host::get(self, kind, id);
        found.ok().flatten().conv()
    }

    fn list(
        &mut self,
        kind: String,
        after: Option<String>,
        limit: u32,
    ) -> Vec<resources::Resource> {
        let q = current::resources::Query {
            kind,
            after,
            limit,
            attribute: None,
        };
        current::resources::Host::list(self, q)
            .unwrap_or_default()
            .conv()
    }

    fn set_state(&mut self, kind: String, id: String, state: String) -> Res<()> {
        current::resources::Host::set_state(self, kind, id, state).conv()
    }

    fn create(
        &mut self,
        kind: String,
        id: String,
        name: String,
        attributes: String,
    ) -> Res<resources::Resource> {
        current::resources::Host::create(self, kind, id, name, attributes).conv()
    }
}

impl backups::Host for InstanceState {
    fn list(&mut self, q: backups::Query) -> Res<backups::Page> {
        current::backups::Host::list(self, q.conv()).conv()
    }

    fn get(&mut self, id: String) -> Res<Option<backups::Backup>> {
        current::backups::Host::get(self, id).conv()
    }

    fn get_by_seq(&mut self, seq: u64) -> Res<Option<backups::Backup>> {
        current::backups::Host::get_by_seq(self, seq).conv()
    }

    fn delete(&mut self, id: String) -> Res<bool> {
        current::backups::Host::delete(self, id).conv()
    }

    fn read(&mut self, id: String, range: types::ByteRange) -> Res<Vec<u8>> {
        current::backups::Host::read(self, id, range.conv()).map_err(Conv::conv)
    }

    fn object_exists(&mut self, id: String) -> Res<bool> {
        current::backups::Host::object_exists(self, id).conv()
    }

    fn set_metadata(&mut self, id: String, metadata: String) -> Res<()> {
        current::backups::Host::set_metadata(self, id, metadata).conv()
    }
}

impl jobs::Host for InstanceState {
    fn create(&mut self, spec: jobs::JobSpec) -> Res<jobs::Job> {
        current::jobs::Host::create(self, spec.conv()).conv()
    }

    fn get(&mut self, id: String) -> Option<jobs::Job> {
        current::jobs::Host::get(self, id).ok().flatten().conv()
    }

    fn get_by_seq(&mut self, seq: u64) -> Option<jobs::Job> {
        let found = current::jobs::Host::get_by_seq(self, seq);
        found.ok().flatten().conv()
    }

    fn list(&mut self, q: jobs::Query) -> Vec<jobs::Job> {
        current::jobs::Host::list(self, q.conv())
            .unwrap_or_default()
            .conv()
    }

    fn cancel(&mut self, id: String) -> Res<jobs::Job> {
        current::jobs::Host::cancel(self, id).conv()
    }

    fn set_metadata(&mut self, id: String, metadata: String) -> Res<()> {
        current::jobs::Host::set_metadata(self, id, metadata).conv()
    }
}

impl documents::Host for InstanceState {
    fn get(&mut self, collection: String, key: String) -> Option<documents::Document> {
        let found = current::documents::Host::get(self, collection, key);
        found.ok().flatten().conv()
    }

    fn put(
        &mut self,
        collection: String,
        key: String,
        value: String,
        expected_revision: Option<u64>,
    ) -> Res<documents::Document> {
        current::documents::Host::put(self, collection, key, value, expected_revision).conv()
    }

    fn delete(&mut self, collection: String, key: String) -> Res<bool> {
        current::documents::Host::delete(self, collection, key, None).conv()
    }

    fn list(
        &mut self,
        collection: String,
        after: Option<String>,
        limit: u32,
    ) -> Vec<documents::Document> {
        current::documents::Host::list(self, collection, after, limit)
            .unwrap_or_default()
            .conv()
    }
}

impl ids::Host for InstanceState {
    fn uuid_v4(&mut self) -> String {
        current::ids::Host::uuid_v4(self)
    }

    fn uuid_v7(&mut self) -> String {
        current::ids::Host::uuid_v7(self)
    }

    fn ulid(&mut self) -> String {
        current::ids::Host::ulid(self)
    }

    fn next_in_sequence(&mut self, name: String) -> u64 {
        current::ids::Host::next_in_sequence(self, name).unwrap_or(0)
    }
}

impl clock::Host for InstanceState {
    fn now(&mut self) -> u64 {
        current::clock::Host::now(self)
    }
}

impl log::Host for InstanceState {
    fn log(&mut self, level: log::Level, message: String) {
        current::log::Host::log(self, level.conv(), message);
    }
}
