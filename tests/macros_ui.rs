//! Compile-time behaviour of `#[job]`: every misuse is a clear error at the
//! offending tokens, and correct uses compile without warnings.
//!
//! Regenerate the expected output after a deliberate change with
//! `TRYBUILD=overwrite cargo test --test macros_ui`, then read the
//! `.stderr` files to check each message and span.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass_*.rs");
    let mut failing: Vec<_> = std::fs::read_dir("tests/ui")
        .expect("tests/ui exists")
        .map(|entry| entry.expect("tests/ui is readable").path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("");
            name.ends_with(".rs") && !name.starts_with("pass_")
        })
        .collect();
    failing.sort();
    for path in failing {
        cases.compile_fail(path);
    }
}
