//! The book (`docs/`): its generated tables and plots are what the oracle produces
//! now, and its chapters include only files that exist.
//!
//! The generator's code is shared with `examples/gen_docs/` (which writes the files);
//! here it runs in memory and each file is compared with the committed one. (The
//! exhaustive tables are read with the command-line tool's parser: `cli` feature.)
#![cfg(feature = "cli")]

#[path = "../examples/gen_docs/exhaustive_tables.rs"]
mod exhaustive_tables;
#[path = "../examples/gen_docs/margin_tables.rs"]
mod margin_tables;
#[path = "../examples/gen_docs/numbers.rs"]
mod numbers;
#[path = "../examples/gen_docs/tables.rs"]
mod tables;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generated_dir() -> PathBuf {
    root().join(tables::OUT_DIR)
}

/// The first line where two texts differ, for the failure message.
fn first_difference(old: &str, new: &str) -> String {
    for (i, (a, b)) in old.lines().zip(new.lines()).enumerate() {
        if a != b {
            let cut = |s: &str| s.chars().take(160).collect::<String>();
            return format!(
                "line {}:\n    committed: {}\n    oracle:    {}",
                i + 1,
                cut(a),
                cut(b)
            );
        }
    }
    format!(
        "the files have {} and {} lines",
        old.lines().count(),
        new.lines().count()
    )
}

/// Compares each generated file with the committed one and fails with the list of
/// stale files and the command that regenerates them.
fn assert_up_to_date(files: &[tables::GenFile], command: &str) {
    let dir = generated_dir();
    let mut stale = Vec::new();
    for f in files {
        let path = dir.join(&f.name);
        match std::fs::read_to_string(&path) {
            Ok(old) if old == f.content => {}
            Ok(old) => stale.push(format!(
                "{} differs from what the oracle produces now ({})",
                path.display(),
                first_difference(&old, &f.content)
            )),
            Err(e) => stale.push(format!("{} cannot be read: {e}", path.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "the book's generated files are stale; run `{command}` and commit docs/src/generated/:\n  {}",
        stale.join("\n  ")
    );
}

#[test]
fn generated_tables_and_plots_are_up_to_date() {
    let files = tables::generate().expect("the generator's oracle calls succeed");
    assert_up_to_date(&files, tables::REGENERATE);
}

#[test]
fn generated_exhaustive_tables_are_up_to_date() {
    let files = tables::generate_exhaustive().expect("the committed run summaries are readable");
    assert_up_to_date(&files, tables::REGENERATE);
}

#[test]
fn generated_audit_is_up_to_date_and_nothing_else_is_there() {
    let audit = tables::generate_audit().expect("the audit runs");
    assert_up_to_date(&audit, tables::REGENERATE_AUDIT);
    // Every file of docs/src/generated/ is produced by the generator.
    let mut expected: BTreeSet<String> = audit.into_iter().map(|f| f.name).collect();
    expected.extend(
        tables::generate()
            .expect("the generator's oracle calls succeed")
            .into_iter()
            .map(|f| f.name),
    );
    expected.extend(
        tables::generate_exhaustive()
            .expect("the committed run summaries are readable")
            .into_iter()
            .map(|f| f.name),
    );
    let present: BTreeSet<String> = std::fs::read_dir(generated_dir())
        .expect("docs/src/generated/ exists")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let stray: Vec<&String> = present.difference(&expected).collect();
    assert!(
        stray.is_empty(),
        "docs/src/generated/ holds files the generator does not produce (delete them): {stray:?}"
    );
}

/// The chapter files of `docs/src/` (top level), by name.
fn chapters(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .expect("docs/src exists")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".md") && n != "SUMMARY.md")
        .collect()
}

#[test]
fn summary_lists_every_chapter_and_includes_resolve() {
    let src = root().join("docs/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).expect("SUMMARY.md");
    let listed: BTreeSet<String> = summary
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(str::to_string)
        .collect();
    let present = chapters(&src);
    assert_eq!(
        listed, present,
        "docs/src/SUMMARY.md must list exactly the chapter files of docs/src/"
    );
    // {{#include generated/…}} and ](generated/…) targets exist.
    let mut missing = Vec::new();
    let mut includes = 0;
    for chapter in &present {
        let text = std::fs::read_to_string(src.join(chapter)).expect("chapter");
        for (open, close) in [("{{#include ", "}}"), ("](generated/", ")")] {
            for rest in text.split(open).skip(1) {
                let target = rest.split(close).next().unwrap_or("");
                let target = if open.starts_with("](") {
                    format!("generated/{target}")
                } else {
                    target.to_string()
                };
                includes += 1;
                if !src.join(&target).is_file() {
                    missing.push(format!("{chapter}: {target}"));
                }
            }
        }
    }
    assert!(includes > 10, "the chapters include the generated files");
    assert!(
        missing.is_empty(),
        "chapters refer to missing files (run `{}`): {missing:?}",
        tables::REGENERATE_AUDIT
    );
}
