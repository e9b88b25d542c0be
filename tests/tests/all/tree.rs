//! The source tree's shape, checked over every Rust crate of the workspace
//! (`host-shim`, `plugin`, `tests`, `bench`, `examples`, `fuzz`): files short
//! or saying why, test functions short, and each crate's modules importing
//! one way (no cycle). `host-shim`'s own order of layers, and of the parts
//! inside `http`, is checked by its `layering` unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest file without a reason in its header.
const MAX_FILE_LINES: usize = 600;
/// Longest test function: a longer one is a scenario to split into stages.
const MAX_TEST_LINES: usize = 120;
/// The workspace's crates whose sources are checked.
const CRATES: [&str; 6] = ["host-shim", "plugin", "tests", "bench", "examples", "fuzz"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness lives in the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if !["target", "node_modules", "corpus", "artifacts"]
                .contains(&name.to_str().unwrap_or(""))
            {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_files() -> Vec<PathBuf> {
    let mut all = Vec::new();
    for krate in CRATES {
        rust_files(&root().join(krate), &mut all);
    }
    assert!(all.len() > 150, "{} files seen", all.len());
    all
}

#[test]
fn files_are_short_or_say_why() {
    let mut long = Vec::new();
    for path in all_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let header_says_why = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .any(|l| l.contains("Longer than"));
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES && !header_says_why {
            long.push(format!("{}: {lines} lines", path.display()));
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_FILE_LINES} lines without \"Longer than …\" in the header:\n{}",
        long.join("\n")
    );
}

/// The test functions of one file and their lengths.
fn test_lengths(text: &str) -> Vec<(String, usize)> {
    fn_lengths(text, false)
}

/// Is `line` (without its indentation) the start of a `fn` item, e.g.
/// `pub(crate) async fn name(`?
fn is_fn_item(line: &str) -> bool {
    line.split_once("fn ").is_some_and(|(before, _)| {
        before
            .split_whitespace()
            .all(|w| w.starts_with("pub") || ["const", "async", "unsafe", "extern"].contains(&w))
    })
}

/// The functions of one file and their lengths: a test's from its attribute,
/// any other's (when `every_fn`) from its `fn` line, to the closing brace at
/// the `fn`'s indentation (files are rustfmt-formatted). A `fn` nested in a
/// measured one counts as part of it; a declaration without a body is none.
fn fn_lengths(text: &str, every_fn: bool) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        let start = i;
        let fn_at = if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
            let Some(fn_at) = (i..lines.len()).find(|&j| lines[j].contains("fn ")) else {
                break;
            };
            fn_at
        } else if every_fn && is_fn_item(line) {
            i
        } else {
            i += 1;
            continue;
        };
        let signature_end = (fn_at..lines.len())
            .find(|&j| lines[j].trim_end().ends_with(['{', '}', ';']))
            .unwrap_or(lines.len() - 1);
        if lines[signature_end].trim_end().ends_with(';') {
            i = signature_end + 1;
            continue;
        }
        let indent = lines[fn_at].len() - lines[fn_at].trim_start().len();
        let close = format!("{}}}", " ".repeat(indent));
        let end = (fn_at..lines.len())
            .find(|&j| lines[j] == close || (j == fn_at && lines[j].trim_end().ends_with('}')))
            .unwrap_or(lines.len() - 1);
        let name = lines[fn_at]
            .split("fn ")
            .nth(1)
            .and_then(|r| r.split('(').next())
            .unwrap_or("?")
            .to_owned();
        found.push((name, end - start + 1));
        i = end + 1;
    }
    found
}

/// Test functions in every crate, and every function of the integration
/// tests (`tests/tests/all`: their scenario helpers are tests' bodies too).
#[test]
fn test_functions_are_short() {
    let all = root().join("tests/tests/all");
    let mut long = Vec::new();
    let mut seen = 0;
    for path in all_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (name, lines) in fn_lengths(&text, path.starts_with(&all)) {
            seen += 1;
            if lines > MAX_TEST_LINES {
                long.push(format!("{}: {name}: {lines} lines", path.display()));
            }
        }
    }
    assert!(seen > 250, "{seen} tests seen");
    assert!(
        long.is_empty(),
        "test functions over {MAX_TEST_LINES} lines (split into stages):\n{}",
        long.join("\n")
    );
}

#[test]
fn test_length_counts_from_attribute_to_closing_brace() {
    let text = "#[test]\nfn a() {\n    let x = 1;\n}\n\n    #[tokio::test]\n    async fn b() {}\n";
    assert_eq!(
        test_lengths(text),
        [("a".to_owned(), 4), ("b".to_owned(), 2)]
    );
}

#[test]
fn every_fn_counts_from_its_fn_line_to_closing_brace() {
    let text = "/// fn in a comment\nasync fn stage(\n    x: u8,\n) {\n    fn inner() {}\n}\n\
                trait T {\n    fn declared(&self);\n}\n\
                impl S {\n    pub(crate) fn m(&self) -> u8 {\n        1\n    }\n}\n\
                #[test]\nfn t() {\n    let fn_at = 1;\n}\n";
    assert_eq!(
        fn_lengths(text, true),
        [
            ("stage".to_owned(), 5),
            ("m".to_owned(), 3),
            ("t".to_owned(), 4)
        ]
    );
    assert_eq!(fn_lengths(text, false), [("t".to_owned(), 4)]);
}

/// A crate's top-level modules (the first name under `src/`) and which of
/// them each one names through `crate::`.
fn module_edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files {
        let rel = path.strip_prefix(src).unwrap();
        let from = rel
            .iter()
            .next()
            .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
            .unwrap_or_default();
        if ["lib", "main"].contains(&from.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let preceded = line[..at].chars().next_back();
                if preceded.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let to: String = line[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if to != from && to.chars().next().is_some_and(char::is_lowercase) {
                    edges.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    edges
}

/// A cycle among `edges`, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        at: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == at) {
            let mut found = path[i..].to_vec();
            found.push(at.to_owned());
            return Some(found);
        }
        if !done.insert(at.to_owned()) {
            return None;
        }
        path.push(at.to_owned());
        for next in edges.get(at).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|from| visit(from, edges, &mut Vec::new(), &mut done))
}

#[test]
fn each_crates_modules_import_one_way() {
    let mut checked = 0;
    for src in [
        "tests/src",
        "tests/tests/all",
        "bench/src",
        "examples/src",
        "plugin/src",
        "host-shim/src",
    ] {
        let edges = module_edges(&root().join(src));
        checked += edges.len();
        if let Some(found) = cycle(&edges) {
            panic!("{src}: modules import each other: {}", found.join(" → "));
        }
    }
    assert!(checked > 20, "{checked} modules with imports seen");
}

#[test]
fn a_cycle_is_found() {
    let edges: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(f, t)| (f.to_owned(), BTreeSet::from([t.to_owned()])))
        .collect();
    assert_eq!(
        cycle(&edges).unwrap(),
        ["a", "b", "c", "a"].map(str::to_owned)
    );
    let mut one_way = edges;
    one_way.remove("c");
    assert_eq!(cycle(&one_way), None);
}
