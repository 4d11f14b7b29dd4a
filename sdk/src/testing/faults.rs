//! Error injection and the call journal of the fake host: which import was called how many
//! times, and which calls are told to fail.

use std::collections::BTreeMap;

use crate::HostError;

/// An import of the provider world that can fail: every one that touches the database, the
/// reads included (the other ids, the clock and the log cannot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Import {
    /// `resources.get`
    ResourcesGet,
    /// `resources.list`
    ResourcesList,
    /// `resources.set-state`
    ResourcesSetState,
    /// `resources.create`
    ResourcesCreate,
    /// `backups.list`
    BackupsList,
    /// `backups.get`
    BackupsGet,
    /// `backups.get-by-seq`
    BackupsGetBySeq,
    /// `backups.delete`
    BackupsDelete,
    /// `backups.read`
    BackupsRead,
    /// `backups.object-exists`
    BackupsObjectExists,
    /// `backups.set-metadata`
    BackupsSetMetadata,
    /// `jobs.create`
    JobsCreate,
    /// `jobs.get`
    JobsGet,
    /// `jobs.get-by-seq`
    JobsGetBySeq,
    /// `jobs.list`
    JobsList,
    /// `jobs.cancel`
    JobsCancel,
    /// `jobs.set-metadata`
    JobsSetMetadata,
    /// `documents.get`
    DocumentsGet,
    /// `documents.put`
    DocumentsPut,
    /// `documents.delete`
    DocumentsDelete,
    /// `documents.list`
    DocumentsList,
    /// `ids.next-in-sequence`
    IdsNextInSequence,
}

/// A rule: let `skip` matching calls through, then fail the next `times` calls of an import
/// (whose first argument is `on`, when given) with `error`.
#[derive(Debug, Clone)]
struct Rule {
    import: Import,
    on: Option<String>,
    skip: usize,
    times: usize,
    error: HostError,
}

/// The journal and the rules.
#[derive(Debug, Default)]
pub(super) struct Faults {
    rules: Vec<Rule>,
    calls: BTreeMap<Import, usize>,
}

impl Faults {
    pub(super) fn add(
        &mut self,
        import: Import,
        on: Option<&str>,
        (skip, times): (usize, usize),
        error: HostError,
    ) {
        self.rules.push(Rule {
            import,
            on: on.map(str::to_string),
            skip,
            times,
            error,
        });
    }

    pub(super) fn clear(&mut self, import: Import) {
        self.rules.retain(|r| r.import != import);
    }

    /// Count a call; the error it must fail with, if a rule says so.
    pub(super) fn call(&mut self, import: Import, first_arg: &str) -> Option<HostError> {
        *self.calls.entry(import).or_default() += 1;
        // The rule set last wins.
        let rule = self.rules.iter_mut().rev().find(|r| {
            r.import == import && r.times > 0 && r.on.as_deref().is_none_or(|on| on == first_arg)
        })?;
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        rule.times -= 1;
        Some(rule.error.clone())
    }

    pub(super) fn count(&self, import: Import) -> usize {
        self.calls.get(&import).copied().unwrap_or(0)
    }
}
