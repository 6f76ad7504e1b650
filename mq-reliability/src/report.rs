//! What a scenario found, and RELIABILITY.md.

use std::fmt::Write as _;
use std::time::Duration;

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
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A duration in seconds, to the millisecond.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// A duration in milliseconds, to a tenth.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(-1234), "-1,234");
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
