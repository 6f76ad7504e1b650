//! Every ```rust block of README.md appears, line for line, in one of the
//! examples CI builds (examples/readme.rs, or the example a section shows
//! whole): the README's code compiles.

/// The examples the README's snippets are taken from (the dashboard's is
/// in its own crate, which depends on this one).
const SOURCES: [&str; 4] = [
    "examples/readme.rs",
    "examples/counting_backend.rs",
    "examples/otel.rs",
    "mq-dashboard/examples/basic_auth.rs",
];

fn rust_blocks(markdown: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```rust") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), _) => block.push(line.trim().to_owned()),
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn every_readme_snippet_is_compiled_in_the_readme_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let sources: Vec<Vec<String>> = SOURCES
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(format!("{root}/{path}")).unwrap();
            text.lines().map(|l| l.trim().to_owned()).collect()
        })
        .collect();
    let blocks = rust_blocks(&readme);
    assert!(
        blocks.len() >= 4,
        "expected the README's rust snippets, found {}",
        blocks.len()
    );
    for block in blocks {
        let found = sources.iter().any(|source| {
            source
                .windows(block.len())
                .any(|window| window == block.as_slice())
        });
        assert!(
            found,
            "this README snippet is in none of {SOURCES:?}:\n{}",
            block.join("\n")
        );
    }
}
