//! Every ```rust block of README.md appears, line for line, in
//! examples/readme.rs, which CI builds: the README's code compiles.

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
    let example = std::fs::read_to_string(format!("{root}/examples/readme.rs")).unwrap();
    let example: Vec<String> = example.lines().map(|l| l.trim().to_owned()).collect();
    let blocks = rust_blocks(&readme);
    assert!(
        blocks.len() >= 4,
        "expected the README's rust snippets, found {}",
        blocks.len()
    );
    for block in blocks {
        let found = example
            .windows(block.len())
            .any(|window| window == block.as_slice());
        assert!(
            found,
            "this README snippet is not in examples/readme.rs:\n{}",
            block.join("\n")
        );
    }
}
