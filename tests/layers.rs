//! The crate is a pipeline of layers (README, "Layout"): every `crate::…` path in a
//! module of `src/` names a module of its own layer or of a layer above it in the
//! table, never one below, and two modules of one layer do not use each other.
//! A new module must be given its layer here (and in the README's table).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, ground floor first.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["arith"],
    &["multiangle"],
    &["psi"],
    &["head"],
    &["loss", "loss_filter", "margin", "fd"],
    &["names"],
    &["conformance"],
    &["fast", "zoo"],
    &["audit"],
    &["cli", "fuzzing"],
];

/// Items the crate root re-exports, by the module that defines them (exported macros
/// live at the root too).
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Error", "error"),
    ("describe_rational", "error"),
    ("Angle", "multiangle"),
    ("scalar_suite", "conformance"),
    ("loss_suite", "conformance"),
    ("head_suite", "conformance"),
    ("head_loss_suite", "conformance"),
    ("cosine_loss_suite", "conformance"),
    ("__head_kind_loss_test", "conformance"),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src/ is readable").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for `lib.rs` and `main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).expect("a file under src/");
    let first = rel.components().next()?.as_os_str().to_str()?;
    match first.strip_suffix(".rs") {
        Some("lib" | "main") => None,
        Some(stem) => Some(stem.to_string()),
        None => Some(first.to_string()),
    }
}

/// The first identifier of each top-level item of a `{a, b::{c, d}, e}` group's inside.
fn group_heads(inside: &str) -> Vec<String> {
    let (mut depth, mut item, mut heads) = (0, String::new(), Vec::new());
    for ch in inside.chars().chain([',']) {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                let head: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !head.is_empty() {
                    heads.push(head);
                }
                item.clear();
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            item.push(ch);
        }
    }
    heads
}

/// The names that follow `crate::` (or `$crate::`) in `code`, comments removed.
fn crate_paths(code: &str) -> Vec<String> {
    let code: String = code
        .lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(inside) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = inside
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(inside.len(), |(j, _)| j);
            out.extend(group_heads(&inside[..end]));
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(head);
        }
    }
    out
}

#[test]
fn no_module_uses_a_module_of_a_later_layer() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let Some(own) = layer_of(&module) else {
            wrong.push(format!("{}: module {module} has no layer", file.display()));
            continue;
        };
        let code = std::fs::read_to_string(file).expect("a readable source file");
        for name in crate_paths(&code) {
            let target = ROOT_ITEMS
                .iter()
                .find(|(item, _)| *item == name)
                .map_or(name.as_str(), |(_, m)| m);
            if target == module || target == "self" {
                continue;
            }
            match layer_of(target) {
                Some(l) if l <= own => {
                    uses.entry(module.clone())
                        .or_default()
                        .insert(target.to_string());
                }
                Some(l) => wrong.push(format!(
                    "{}: {module} (layer {own}) uses crate::{name} ({target}, layer {l})",
                    file.strip_prefix(&src).unwrap().display()
                )),
                None => wrong.push(format!(
                    "{}: crate::{name} is neither a module with a layer nor a known root item",
                    file.strip_prefix(&src).unwrap().display()
                )),
            }
        }
    }
    for (a, targets) in &uses {
        for b in targets {
            if layer_of(a) == layer_of(b) && uses.get(b).is_some_and(|t| t.contains(a)) {
                wrong.push(format!("{a} and {b} (one layer) use each other"));
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "upward imports:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn the_scanner_sees_paths_and_groups() {
    let code = "use crate::{Angle, Error, arith::{Ival, ziv}};\n\
                // crate::cli in a comment\n\
                let x = crate::psi::psi(); $crate::conformance::X; my_crate::zoo;";
    assert_eq!(
        crate_paths(code),
        ["Angle", "Error", "arith", "psi", "conformance"]
    );
}
