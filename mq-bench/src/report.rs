//! Result tables: one per scenario, a row per system and variant, each
//! cell the median of the repetitions with their spread, and ratio rows
//! comparing mq with sqlxmq and with the raw-SQL floor (and, where a
//! scenario asks, with mq's own figures in another table).

use std::fmt::Write;

use crate::stats::Spread;
use crate::systems::SystemKind;

/// What a column measures, which decides how it is printed and whether
/// mq's figures in it get ratios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Jobs per second (higher is better).
    Rate,
    /// Milliseconds (lower is better).
    Millis,
    /// Seconds.
    Seconds,
    /// Mebibytes.
    MiB,
    /// A plain count.
    Count,
    /// CPU in use, in cores (1.0: one core kept busy).
    Cores,
    /// A mean of counts (one decimal: 39.6 of a limit of 40 is not 40).
    Mean,
    /// A ratio of two figures of the same run, printed as `0.95×`: for
    /// a scenario whose target is a ratio (to its own reference, not to
    /// the peers).
    Ratio,
}

impl Unit {
    fn format(self, value: f64) -> String {
        match self {
            Unit::Rate | Unit::Count => thousands(value.round() as i64),
            Unit::Millis if value < 10.0 => format!("{value:.2}"),
            Unit::Millis if value < 100.0 => format!("{value:.1}"),
            Unit::Millis => thousands(value.round() as i64),
            Unit::Seconds => format!("{value:.1}"),
            Unit::MiB => format!("{value:.1}"),
            Unit::Cores => format!("{value:.2}"),
            Unit::Mean => format!("{value:.1}"),
            Unit::Ratio => format!("{}×", ratio(value)),
        }
    }

    /// Whether mq's figures in such a column are compared by ratio.
    fn compared(self) -> bool {
        matches!(self, Unit::Rate | Unit::Millis)
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: i64) -> String {
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

/// A ratio with two decimals, or two significant digits below 0.1 (so
/// that 0.00014 does not print as 0.00).
pub fn ratio(r: f64) -> String {
    if r >= 0.1 || r <= 0.0 || !r.is_finite() {
        return format!("{r:.2}");
    }
    let decimals = (1.0 - r.log10().floor()) as usize;
    format!("{r:.decimals$}")
}

/// A column of a table.
#[derive(Debug, Clone)]
pub struct Column {
    /// Its heading.
    pub name: String,
    /// What it measures.
    pub unit: Unit,
}

impl Column {
    /// A column named `name` measuring `unit`.
    pub fn new(name: impl Into<String>, unit: Unit) -> Self {
        Column {
            name: name.into(),
            unit,
        }
    }
}

#[derive(Debug)]
struct Row {
    system: SystemKind,
    variant: String,
    /// Printed after the system's name, pointing at a note.
    marker: Option<String>,
    /// Per column, the value of each repetition that had one.
    values: Vec<Vec<f64>>,
}

/// Medians from elsewhere (another table) that one row is compared with.
#[derive(Debug)]
struct Reference {
    system: SystemKind,
    variant: String,
    /// What the ratio row is labelled with after `÷`.
    label: String,
    /// Per column, the median compared with (or none).
    medians: Vec<Option<f64>>,
}

/// The table of one scenario, filled one repetition at a time.
#[derive(Debug)]
pub struct Table {
    title: String,
    columns: Vec<Column>,
    rows: Vec<Row>,
    references: Vec<Reference>,
    notes: Vec<String>,
    /// Whether mq's rows get ratio rows to sqlxmq's and raw's.
    ratios: bool,
}

impl Table {
    /// An empty table.
    pub fn new(title: impl Into<String>, columns: Vec<Column>) -> Self {
        Table {
            title: title.into(),
            columns,
            rows: Vec::new(),
            references: Vec::new(),
            notes: Vec::new(),
            ratios: true,
        }
    }

    /// Leaves out the ratio rows of mq to sqlxmq and raw: for tables with
    /// many rows per system (one per minute, say), where a ratio row per
    /// row would bury the figures; such a table says in its notes how the
    /// systems compare.
    pub fn without_ratios(mut self) -> Self {
        self.ratios = false;
        self
    }

    /// Records one repetition of `system` in `variant`: a value (or none)
    /// per column.
    pub fn add(&mut self, system: SystemKind, variant: &str, values: &[Option<f64>]) {
        assert_eq!(values.len(), self.columns.len(), "one value per column");
        let index = match self
            .rows
            .iter()
            .position(|r| r.system == system && r.variant == variant)
        {
            Some(i) => i,
            None => {
                self.rows.push(Row {
                    system,
                    variant: variant.to_owned(),
                    marker: None,
                    values: vec![Vec::new(); self.columns.len()],
                });
                self.rows.len() - 1
            }
        };
        for (column, value) in self.rows[index].values.iter_mut().zip(values) {
            column.extend(value.filter(|v| v.is_finite()));
        }
    }

    /// Adds a note printed under the table (once, however often added).
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// Adds a note starting with `key`, replacing an earlier one with the
    /// same key (so that a repetition's details show only once, the last).
    pub fn note_keyed(&mut self, key: &str, text: &str) {
        let note = format!("{key}{text}");
        match self.notes.iter_mut().find(|n| n.starts_with(key)) {
            Some(old) => *old = note,
            None => self.notes.push(note),
        }
    }

    /// Prints `marker` after the name of `system`'s row in `variant` (which
    /// must have been added), to point at a note about it.
    pub fn mark(&mut self, system: SystemKind, variant: &str, marker: &str) {
        if let Some(row) = self
            .rows
            .iter_mut()
            .find(|r| r.system == system && r.variant == variant)
        {
            row.marker = Some(marker.to_owned());
        }
    }

    /// Adds a ratio row of `system`'s medians in `variant` to `medians`
    /// (one per column, from elsewhere), labelled `÷ label`.
    pub fn compare_with(
        &mut self,
        system: SystemKind,
        variant: &str,
        label: &str,
        medians: Vec<Option<f64>>,
    ) {
        assert_eq!(medians.len(), self.columns.len(), "one median per column");
        self.references.push(Reference {
            system,
            variant: variant.to_owned(),
            label: label.to_owned(),
            medians,
        });
    }

    /// The median of `system`'s values in `variant` and `column`, if it
    /// has any.
    pub fn median(&self, system: SystemKind, variant: &str, column: usize) -> Option<f64> {
        let row = self
            .rows
            .iter()
            .find(|r| r.system == system && r.variant == variant)?;
        Spread::of(&row.values[column]).map(|s| s.median)
    }

    /// The cells of a ratio row: `system`'s median in `variant` over
    /// `theirs` of the same column, in the columns compared by ratio; `None`
    /// if no cell has both figures.
    fn ratio_cells(
        &self,
        system: SystemKind,
        variant: &str,
        theirs: impl Fn(usize) -> Option<f64>,
    ) -> Option<Vec<String>> {
        let cells: Vec<Option<String>> = (0..self.columns.len())
            .map(|i| {
                if !self.columns[i].unit.compared() {
                    return None;
                }
                let ours = self.median(system, variant, i)?;
                let theirs = theirs(i)?;
                (theirs > 0.0).then(|| format!("{}×", ratio(ours / theirs)))
            })
            .collect();
        if cells.iter().all(Option::is_none) {
            return None;
        }
        Some(cells.into_iter().map(|c| c.unwrap_or_default()).collect())
    }

    /// The table in Markdown.
    pub fn to_markdown(&self) -> String {
        let mut rows = self.rows.iter().collect::<Vec<_>>();
        rows.sort_by_key(|r| r.system);
        let mut variants: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !variants.contains(&row.variant.as_str()) {
                variants.push(&row.variant);
            }
        }
        rows.sort_by_key(|r| (variants.iter().position(|v| *v == r.variant), r.system));

        let mut out = String::new();
        let _ = writeln!(out, "### {}\n", self.title);
        let header: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        let _ = writeln!(out, "| system | variant | {} |", header.join(" | "));
        let _ = writeln!(out, "|---|---|{}", "---:|".repeat(header.len()));
        for row in &rows {
            let cells: Vec<String> = self
                .columns
                .iter()
                .zip(&row.values)
                .map(|(column, values)| match Spread::of(values) {
                    None => "n/a".into(),
                    Some(s) if values.len() == 1 || s.min == s.max => column.unit.format(s.median),
                    Some(s) => format!(
                        "{} ({}–{})",
                        column.unit.format(s.median),
                        column.unit.format(s.min),
                        column.unit.format(s.max)
                    ),
                })
                .collect();
            let _ = writeln!(
                out,
                "| {}{} | {} | {} |",
                row.system,
                row.marker
                    .as_deref()
                    .map(|m| format!(" {m}"))
                    .unwrap_or_default(),
                row.variant,
                cells.join(" | ")
            );
        }
        // Ratios of mq's medians to the peers' medians, same variant.
        for variant in variants.iter().filter(|_| self.ratios) {
            for mq in rows
                .iter()
                .filter(|r| r.system.is_mq() && r.variant == *variant)
            {
                for peer in [SystemKind::Sqlxmq, SystemKind::Raw] {
                    let Some(cells) =
                        self.ratio_cells(mq.system, variant, |i| self.median(peer, variant, i))
                    else {
                        continue;
                    };
                    let _ = writeln!(
                        out,
                        "| *{} ÷ {}* | {} | {} |",
                        mq.system,
                        peer,
                        variant,
                        cells.join(" | ")
                    );
                }
            }
        }
        for reference in &self.references {
            let Some(cells) = self.ratio_cells(reference.system, &reference.variant, |i| {
                reference.medians[i]
            }) else {
                continue;
            };
            let _ = writeln!(
                out,
                "| *{} ÷ {}* | {} | {} |",
                reference.system,
                reference.label,
                reference.variant,
                cells.join(" | ")
            );
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-4500), "-4,500");
    }

    #[test]
    fn small_ratios_keep_two_digits() {
        assert_eq!(ratio(12.345), "12.35");
        assert_eq!(ratio(0.5), "0.50");
        assert_eq!(ratio(0.05), "0.050");
        assert_eq!(ratio(0.000136), "0.00014");
    }

    #[test]
    fn means_and_ratio_columns() {
        let mut t = Table::new(
            "t",
            vec![
                Column::new("running mean", Unit::Mean),
                Column::new("ratio", Unit::Ratio),
            ],
        );
        t.add(SystemKind::MqSqlx, "default", &[Some(39.64), Some(0.9512)]);
        t.add(SystemKind::MqSqlx, "default", &[Some(38.0), Some(0.05)]);
        let md = t.to_markdown();
        assert!(
            md.contains("| mq-sqlx | default | 38.8 (38.0–39.6) | 0.50× (0.050×–0.95×) |"),
            "{md}"
        );
        // Neither is compared with the peers.
        t.add(SystemKind::Sqlxmq, "default", &[Some(20.0), Some(0.5)]);
        assert!(!t.to_markdown().contains("÷"));
    }

    #[test]
    fn medians_spreads_and_ratios() {
        let mut t = Table::new("t", vec![Column::new("jobs/s", Unit::Rate)]);
        for v in [100.0, 300.0, 200.0] {
            t.add(SystemKind::MqSqlx, "default", &[Some(v)]);
        }
        t.add(SystemKind::Sqlxmq, "default", &[Some(50.0)]);
        t.add(SystemKind::Raw, "default", &[None]);
        t.note("a note");
        t.note_keyed("k: ", "first");
        t.note_keyed("k: ", "second");
        t.mark(SystemKind::Sqlxmq, "default", "†");
        let md = t.to_markdown();
        assert!(md.contains("| mq-sqlx | default | 200 (100–300) |"), "{md}");
        assert!(md.contains("| sqlxmq † | default | 50 |"), "{md}");
        assert!(md.contains("- k: second") && !md.contains("first"), "{md}");
        assert!(md.contains("| raw | default | n/a |"), "{md}");
        assert!(
            md.contains("| *mq-sqlx ÷ sqlxmq* | default | 4.00× |"),
            "{md}"
        );
        assert!(!md.contains("÷ raw"), "{md}");
        assert!(md.contains("- a note"), "{md}");
    }

    #[test]
    fn ratios_to_medians_from_elsewhere() {
        let mut t = Table::new("t", vec![Column::new("jobs/s", Unit::Rate)]);
        t.add(SystemKind::MqSqlx, "default", &[Some(90.0)]);
        t.compare_with(SystemKind::MqSqlx, "default", "table 3", vec![Some(100.0)]);
        // No row to compare, or nothing to compare with: no ratio row.
        t.compare_with(
            SystemKind::MqTokioPostgres,
            "default",
            "table 3",
            vec![Some(1.0)],
        );
        t.compare_with(SystemKind::MqSqlx, "tuned", "table 3", vec![None]);
        let md = t.to_markdown();
        assert!(
            md.contains("| *mq-sqlx ÷ table 3* | default | 0.90× |"),
            "{md}"
        );
        assert_eq!(md.matches("÷").count(), 1, "{md}");
    }

    #[test]
    fn ratio_rows_can_be_left_out() {
        let mut t = Table::new("t", vec![Column::new("jobs/s", Unit::Rate)]).without_ratios();
        t.add(SystemKind::MqSqlx, "default", &[Some(90.0)]);
        t.add(SystemKind::Raw, "default", &[Some(100.0)]);
        let md = t.to_markdown();
        assert!(md.contains("| raw | default | 100 |"), "{md}");
        assert!(!md.contains("÷"), "{md}");
    }
}
