//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`, seeds and minimized
//! crashes that were fixed) through the fuzz targets' checks in `asoftmax_spec::fuzzing`,
//! so that `cargo test --all-features` catches regressions without cargo-fuzz.
#![cfg(feature = "fuzzing")]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

/// Every corpus file must be checked within this time (the fuzz runs flag units slower
/// than 10 s as timeouts; the slowest committed file takes well under a second).
const BUDGET: Duration = Duration::from_secs(20);

/// Runs `check` over every file of `fuzz/corpus/<target>/`; fails naming every file
/// whose check panicked or took longer than [`BUDGET`].
fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: empty corpus", dir.display());
    let mut failed = Vec::new();
    for f in &files {
        let data = std::fs::read(f).expect("corpus file");
        let start = Instant::now();
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(f.display().to_string());
        } else if start.elapsed() > BUDGET {
            failed.push(format!("{} (took {:?})", f.display(), start.elapsed()));
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} corpus files fail: {failed:#?}",
        failed.len(),
        files.len()
    );
}

#[test]
fn fast_vs_oracle_corpus() {
    replay("fast_vs_oracle", asoftmax_spec::fuzzing::fast_vs_oracle);
}

#[test]
fn loss_grad_vs_oracle_corpus() {
    replay(
        "loss_grad_vs_oracle",
        asoftmax_spec::fuzzing::loss_grad_vs_oracle,
    );
}

#[test]
fn api_robustness_corpus() {
    replay("api_robustness", asoftmax_spec::fuzzing::api_robustness);
}

#[cfg(feature = "cli")]
#[test]
fn jsonl_parsers_corpus() {
    replay("jsonl_parsers", asoftmax_spec::fuzzing::jsonl_parsers);
}
