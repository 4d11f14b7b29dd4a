//! What a run found: per scenario ([`Report`]) and per run of several scenarios against one
//! plugin ([`SuiteReport`], which also holds the conformance findings), printable as the
//! readable text the CLI shows.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One step's outcome.
#[derive(Debug, Clone, Default)]
pub struct StepReport {
    /// 1-based position in the scenario.
    pub index: usize,
    /// The step's name, or `METHOD path`.
    pub label: String,
    /// `METHOD path` as sent (after substitution), for request steps.
    pub request: Option<String>,
    /// The response status, for request steps that got one.
    pub status: Option<u16>,
    /// How long the step took (wait and request).
    pub duration: Duration,
    /// Why it failed (empty: passed).
    pub failures: Vec<String>,
    /// The response, clipped, when the step failed.
    pub response: Option<String>,
}

impl StepReport {
    /// Whether the step passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// One scenario's outcome.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Its title.
    pub title: String,
    /// Provider name of the plugin (once loaded).
    pub plugin: String,
    /// Why the scenario could not run at all (parse error, setup refused, plugin not loaded).
    pub error: Option<String>,
    /// Steps run, in order.
    pub steps: Vec<StepReport>,
    /// Steps after a failure that were not run.
    pub not_run: usize,
    /// Conformance failures (strict mode; for [`crate::run_scenario`], the whole check).
    pub conformance: Vec<String>,
    /// Where the OpenAPI document the conformance findings speak of is fixed, when there is
    /// one ([`backup_gateway::plugins::openapi::SOURCE`]).
    pub document: Option<String>,
    /// Notes that do not fail the run.
    pub warnings: Vec<String>,
    /// Time to build the gateway (database, plugin load, seeding).
    pub setup_time: Duration,
    /// Time spent in steps.
    pub steps_time: Duration,
}

impl Report {
    /// Whether the scenario ran and every step and conformance check passed.
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.not_run == 0
            && self.steps.iter().all(StepReport::passed)
            && self.conformance.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        writeln!(
            f,
            "{verdict}  {}  ({})  {} steps, setup {} ms, steps {} ms",
            self.title,
            self.scenario.display(),
            self.steps.len(),
            self.setup_time.as_millis(),
            self.steps_time.as_millis()
        )?;
        if let Some(e) = &self.error {
            writeln!(f, "  error: {e}")?;
        }
        for s in self.steps.iter().filter(|s| !s.passed()) {
            let status = s.status.map(|c| format!(" → {c}")).unwrap_or_default();
            writeln!(
                f,
                "  step {} \"{}\" {}{status}",
                s.index,
                s.label,
                s.request.as_deref().unwrap_or("")
            )?;
            for failure in &s.failures {
                writeln!(f, "    {failure}")?;
            }
            if let Some(r) = &s.response {
                writeln!(f, "    response:")?;
                for line in r.lines() {
                    writeln!(f, "      {line}")?;
                }
            }
        }
        if self.not_run > 0 {
            writeln!(
                f,
                "  {} later step(s) not run (the run stops at the first failing step; --keep-going runs them)",
                self.not_run
            )?;
        }
        if let (Some(d), false) = (&self.document, self.conformance.is_empty()) {
            writeln!(f, "  conformance (the OpenAPI document is {d}):")?;
        }
        for c in &self.conformance {
            writeln!(f, "  conformance: {c}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

/// Several scenarios run against one plugin, with the conformance findings over all of them.
#[derive(Debug, Clone, Default)]
pub struct SuiteReport {
    /// The plugin file.
    pub plugin_path: PathBuf,
    /// Provider name and version, once loaded.
    pub plugin: String,
    /// Whether the conformance mode was on.
    pub strict: bool,
    /// One report per scenario, in the order given.
    pub reports: Vec<Report>,
    /// Conformance failures over the whole run (strict mode).
    pub conformance: Vec<String>,
    /// Where the OpenAPI document the findings speak of is fixed, when there is one
    /// ([`backup_gateway::plugins::openapi::SOURCE`]).
    pub document: Option<String>,
    /// Notes that do not fail the run.
    pub warnings: Vec<String>,
    /// Wall-clock time of the whole run.
    pub duration: Duration,
}

impl SuiteReport {
    /// Whether every scenario and every conformance check passed.
    pub fn passed(&self) -> bool {
        !self.reports.is_empty()
            && self.reports.iter().all(Report::passed)
            && self.conformance.is_empty()
    }

    /// Steps run, over all scenarios.
    pub fn steps(&self) -> usize {
        self.reports.iter().map(|r| r.steps.len()).sum()
    }
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.reports {
            write!(f, "{r}")?;
        }
        if self.strict {
            let verdict = if self.conformance.is_empty() {
                "PASS"
            } else {
                "FAIL"
            };
            match (&self.document, self.conformance.is_empty()) {
                (Some(d), false) => writeln!(
                    f,
                    "{verdict}  conformance of {} (strict; the OpenAPI document is {d})",
                    self.plugin
                )?,
                _ => writeln!(f, "{verdict}  conformance of {} (strict)", self.plugin)?,
            }
            for c in &self.conformance {
                writeln!(f, "  {c}")?;
            }
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        let failed = self.reports.iter().filter(|r| !r.passed()).count();
        writeln!(
            f,
            "{}: {} scenario(s), {} step(s), {} failed scenario(s){}, {} ms",
            if self.passed() { "ok" } else { "FAILED" },
            self.reports.len(),
            self.steps(),
            failed,
            if self.strict {
                format!(", {} conformance failure(s)", self.conformance.len())
            } else {
                String::new()
            },
            self.duration.as_millis()
        )
    }
}
