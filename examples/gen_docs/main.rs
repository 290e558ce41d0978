//! Regenerates the book's tables and plots (`docs/src/generated/`) from the oracle.
//!
//! ```sh
//! cargo run --example gen_docs                      # tables and plots (seconds)
//! cargo run --example gen_docs -- --audit # also the accuracy audit (about a minute)
//! cargo run --example gen_docs -- --check           # compare only; exit 1 when stale
//! ```
//!
//! `tests/docs.rs` regenerates the same files in memory and fails when the
//! committed ones differ.

mod exhaustive_tables;
mod margin_tables;
mod numbers;
mod tables;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut audit, mut check) = (false, false);
    for a in &args {
        match a.as_str() {
            "--audit" => audit = true,
            "--check" => check = true,
            "-h" | "--help" => {
                println!(
                    "usage: cargo run --example gen_docs [-- [--audit] [--check]]\n\
                     writes {}/ (tables and plots; --audit: the accuracy audit too);\n\
                     --check compares instead of writing and exits 1 when a file is stale",
                    tables::OUT_DIR
                );
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("gen_docs: unknown argument {other:?} (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    let mut files = match tables::generate() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("gen_docs: {e}");
            return ExitCode::FAILURE;
        }
    };
    match tables::generate_exhaustive() {
        Ok(f) => files.extend(f),
        Err(e) => {
            eprintln!("gen_docs: {e}");
            return ExitCode::FAILURE;
        }
    }
    if audit {
        eprintln!("gen_docs: running the accuracy audit …");
        match tables::generate_audit() {
            Ok(f) => files.extend(f),
            Err(e) => {
                eprintln!("gen_docs: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(tables::OUT_DIR);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("gen_docs: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let mut stale = 0;
    for f in &files {
        let path = dir.join(&f.name);
        let old = std::fs::read_to_string(&path).ok();
        let same = old.as_deref() == Some(f.content.as_str());
        if check {
            if !same {
                eprintln!("stale: {}", path.display());
                stale += 1;
            }
            continue;
        }
        if same {
            println!("unchanged {}", path.display());
        } else if let Err(e) = std::fs::write(&path, &f.content) {
            eprintln!("gen_docs: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        } else {
            println!("wrote     {}", path.display());
        }
    }
    if audit && !check {
        // The full set is known: remove files that the generator no longer produces.
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !names.contains(&name.as_str()) {
                    match std::fs::remove_file(e.path()) {
                        Ok(()) => println!("removed   {}", e.path().display()),
                        Err(err) => {
                            eprintln!("gen_docs: cannot remove {}: {err}", e.path().display())
                        }
                    }
                }
            }
        }
    }
    if stale > 0 {
        eprintln!(
            "{stale} generated file(s) differ from what the oracle produces now: run `{}`{}",
            tables::REGENERATE,
            if audit {
                format!(" (and `{}`)", tables::REGENERATE_AUDIT)
            } else {
                String::new()
            }
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
