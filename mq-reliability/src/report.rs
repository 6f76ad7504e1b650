//! What a scenario found, and RELIABILITY.md.

use std::fmt::Write as _;
use std::time::Duration;

use num_format::{Locale, ToFormattedString};

/// One scenario's result: what it measured and what it checked.
#[derive(Debug)]
pub struct Report {
    /// The scenario's title.
    pub title: String,
    /// What it does, in a sentence or two.
    pub setup: String,
    /// Measured figures, in order.
    pub facts: Vec<(String, String)>,
    /// Checks: whether each held, and what it says.
    pub checks: Vec<(bool, String)>,
    /// Why the scenario did not run, if it did not.
    pub skipped: Option<String>,
    /// A table over time (header, rows), for the soak.
    pub series: Option<(Vec<String>, Vec<Vec<String>>)>,
    /// How long it took.
    pub elapsed: Duration,
}

impl Report {
    /// An empty report.
    pub fn new(title: impl Into<String>, setup: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            setup: setup.into(),
            facts: Vec::new(),
            checks: Vec::new(),
            skipped: None,
            series: None,
            elapsed: Duration::ZERO,
        }
    }

    /// Records a measured figure.
    pub fn fact(&mut self, name: impl Into<String>, value: impl ToString) {
        self.facts.push((name.into(), value.to_string()));
    }

    /// Records a check.
    pub fn check(&mut self, holds: bool, what: impl Into<String>) {
        self.checks.push((holds, what.into()));
    }

    /// Whether every check held (a skipped scenario has none).
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|(holds, _)| *holds)
    }

    /// The verdict, as the report shows it.
    pub fn verdict(&self) -> &'static str {
        match (&self.skipped, self.passed()) {
            (Some(_), _) => "SKIPPED",
            (None, true) => "PASS",
            (None, false) => "FAIL",
        }
    }

    /// Markdown.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## {} — {}\n", self.title, self.verdict());
        let _ = writeln!(out, "{}\n", self.setup);
        if let Some(reason) = &self.skipped {
            let _ = writeln!(out, "Not run: {reason}\n");
            return out;
        }
        if !self.facts.is_empty() {
            out.push_str("| measured | value |\n|---|---:|\n");
            for (name, value) in &self.facts {
                let _ = writeln!(out, "| {name} | {value} |");
            }
            out.push('\n');
        }
        if let Some((header, rows)) = &self.series {
            let _ = writeln!(out, "| {} |", header.join(" | "));
            let _ = writeln!(out, "|{}", "---:|".repeat(header.len()));
            for row in rows {
                let _ = writeln!(out, "| {} |", row.join(" | "));
            }
            out.push('\n');
        }
        for (holds, what) in &self.checks {
            let _ = writeln!(out, "- {} {what}", if *holds { "✓" } else { "✗ FAILED:" });
        }
        let _ = writeln!(out, "\nTook {:.0} s.\n", self.elapsed.as_secs_f64());
        out
    }
}

/// `n` with thousands separators.
pub fn count(n: impl Into<i128>) -> String {
    n.into().to_formatted_string(&Locale::en)
}

/// A duration in seconds, to the millisecond.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// The longest of `times`, `None` if any is `None` (a wait that timed
/// out).
pub fn slowest(times: &[Option<Duration>]) -> Option<Duration> {
    times
        .iter()
        .try_fold(Duration::ZERO, |max, t| t.map(|t| max.max(t)))
}

/// [`slowest`] as the report shows it: formatted with `format`, or "not
/// within `timeout`".
pub fn show_slowest(
    slowest: Option<Duration>,
    format: fn(Duration) -> String,
    timeout: Duration,
) -> String {
    slowest.map_or_else(|| format!("not within {}", secs(timeout)), format)
}

/// A duration in milliseconds, to a tenth.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_out_wait_is_the_slowest() {
        let s = Duration::from_secs;
        assert_eq!(slowest(&[Some(s(1)), Some(s(3)), Some(s(2))]), Some(s(3)));
        assert_eq!(slowest(&[Some(s(1)), None]), None);
        assert_eq!(show_slowest(None, ms, s(30)), "not within 30.000 s");
    }

    #[test]
    fn a_failed_check_fails_the_report() {
        let mut report = Report::new("t", "s");
        report.check(true, "fine");
        assert_eq!(report.verdict(), "PASS");
        report.check(false, "broken");
        assert_eq!(report.verdict(), "FAIL");
        assert!(report.render().contains("✗ FAILED: broken"));
    }
}
