//! `check` is strict about its vectors file: every op, dtype, variant, backward and
//! `vectors_version` it does not know is a line-numbered problem that fails the check,
//! and the other lines are still judged.
#![cfg(feature = "cli")]

use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_asoftmax-spec"))
}

fn tmp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("asoftmax-spec-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Two ψ and two loss vectors (f64, m = 2), parsed.
fn vectors() -> Vec<Value> {
    let out = bin()
        .args([
            "vectors", "--op", "psi,loss", "--m", "2", "--count", "2", "--dtype", "f64",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Results that echo the correctly rounded f64 values.
fn results(vectors: &[Value]) -> String {
    let f64s = |rows: &Value| {
        Value::Array(
            rows.as_array()
                .unwrap()
                .iter()
                .map(|row| {
                    row.as_array()
                        .unwrap()
                        .iter()
                        .map(|g| g["f64"].clone())
                        .collect()
                })
                .collect(),
        )
    };
    vectors
        .iter()
        .map(|v| {
            let mut r = json!({"id": v["id"], "value": v["f64"]});
            if v["op"] == "loss" {
                r["grad_x"] = f64s(&v["grad_x"]);
                r["grad_w"] = f64s(&v["grad_w"]);
            }
            format!("{r}\n")
        })
        .collect()
}

fn lines(v: &[Value]) -> String {
    v.iter().map(|x| format!("{x}\n")).collect()
}

/// Runs `check --format json`; (exit status, report). Each call writes files of its own:
/// tests run in parallel and may use the same `name` (two tests replace line 1's `op`).
fn check(name: &str, vectors: &[Value], results: &str) -> (i32, Value) {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let vp = tmp(&format!("v-{name}-{n}.jsonl"), &lines(vectors));
    let rp = tmp(&format!("r-{name}-{n}.jsonl"), results);
    let out = bin()
        .arg("check")
        .arg(&vp)
        .arg(&rp)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

fn problems(report: &Value) -> Vec<(String, u64, String)> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["file"].as_str().unwrap().to_string(),
                p["line"].as_u64().unwrap(),
                p["problem"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn cases(report: &Value, group: &str) -> u64 {
    report["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == group)
        .map_or(0, |g| g["cases"].as_u64().unwrap())
}

#[test]
fn the_generated_vectors_pass() {
    let v = vectors();
    let (code, report) = check("ok", &v, &results(&v));
    assert_eq!(code, 0, "{report}");
    assert_eq!(cases(&report, "psi f64"), 2);
    assert_eq!(cases(&report, "loss f64"), 2);
}

#[test]
fn version_1_vectors_are_still_read() {
    // A version 1 line: no f16, bf16 or scheme fields (a native loss vector).
    let mut v = vectors();
    for line in &mut v {
        let obj = line.as_object_mut().unwrap();
        obj.insert("vectors_version".into(), json!(1));
        for k in ["f16", "bf16", "scheme"] {
            obj.remove(k);
        }
    }
    let (code, report) = check("v1", &v, &results(&v));
    assert_eq!(code, 0, "{report}");
    assert_eq!(cases(&report, "loss f64"), 2);
}

/// One field of one line replaced: the check fails with that line's number and a
/// message naming the bad name, and the untouched lines are still judged.
fn rejected(line: usize, field: &str, bad: Value, expect: &str) {
    let mut v = vectors();
    let r = results(&v);
    v[line - 1][field] = bad;
    let (code, report) = check(&format!("{field}-{line}"), &v, &r);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["passed"], false);
    let p = problems(&report);
    assert_eq!(
        p.len(),
        1,
        "one problem, not a second one for its result: {report}"
    );
    assert_eq!(p[0].0, "vectors");
    assert_eq!(p[0].1, line as u64, "{report}");
    assert!(p[0].2.contains(expect), "{expect:?} not in {:?}", p[0].2);
    // The other three lines are judged.
    let judged = cases(&report, "psi f64") + cases(&report, "loss f64");
    assert_eq!(judged, 3, "{report}");
}

#[test]
fn an_unknown_op_is_a_failing_line_numbered_problem() {
    // It used to be judged as dpsi_dcos and pass.
    rejected(
        1,
        "op",
        json!("psi_typo"),
        "unknown op \"psi_typo\" (vectors ops: cos_m, psi, dpsi_dcos, loss)",
    );
    // An eval op that has no vectors is refused too.
    rejected(
        2,
        "op",
        json!("dpsi_dtheta"),
        "op \"dpsi_dtheta\" has no vectors",
    );
}

#[test]
fn an_unknown_variant_or_backward_is_a_failing_line_numbered_problem() {
    // They used to become a_softmax and full.
    rejected(
        3,
        "variant",
        json!("a-softmax"),
        "field \"variant\": unknown variant \"a-softmax\" (expected \"a_softmax\" or \"l_softmax\")",
    );
    rejected(
        4,
        "backward",
        json!("detached"),
        "field \"backward\": unknown backward \"detached\" (expected \"full\" or \"detached_margin\")",
    );
}

#[test]
fn an_unknown_dtype_or_version_is_a_failing_line_numbered_problem() {
    rejected(
        2,
        "dtype",
        json!("f8"),
        "field \"dtype\": unknown dtype \"f8\" (expected one of: f32, f64, f16, bf16)",
    );
    rejected(
        3,
        "vectors_version",
        json!(5),
        "incompatible vectors file: vectors_version is 5",
    );
    // Version 4 is the version of loss lines on cosines, and only of them.
    rejected(
        3,
        "vectors_version",
        json!(4),
        "vectors_version 4 is the version of loss lines on cosines",
    );
    rejected(1, "vectors_version", json!("1"), "vectors_version is \"1\"");
}

#[test]
fn an_unknown_field_is_a_failing_line_numbered_problem() {
    rejected(2, "colour", json!("red"), "unknown field \"colour\"");
    // The field reader is eval's: a non-string op or a fractional m is reported as eval does.
    rejected(
        1,
        "op",
        json!(3),
        "field \"op\": expected a string, got a number",
    );
    rejected(1, "m", json!("2.5"), "m = 2.5 is out of range");
}

#[test]
fn the_text_report_of_a_typo_in_an_op_fails() {
    let mut v = vectors();
    let r = results(&v);
    v[0]["op"] = json!("psi_typo");
    let vp = tmp("v-typo.jsonl", &lines(&v));
    let rp = tmp("r-typo.jsonl", &r);
    let out = bin().arg("check").arg(&vp).arg(&rp).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("vectors line 1 (id psi/f64/m=2/00000): unknown op \"psi_typo\""),
        "{text}"
    );
    assert!(text.ends_with("check: FAIL\n"), "{text}");
}

#[test]
fn malformed_result_gradients_are_line_numbered() {
    let v = vectors();
    let mut r: Vec<Value> = results(&v)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // grad_x of a 2×3 batch written as 3 rows of 2: same count, wrong shape.
    let flat: Vec<Value> = r[2]["grad_x"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().clone())
        .collect();
    r[2]["grad_x"] = json!(flat.chunks(2).collect::<Vec<_>>());
    let (code, report) = check("shape", &v, &lines(&r));
    assert_eq!(code, 1, "{report}");
    let p = problems(&report);
    assert_eq!(p.len(), 1, "{report}");
    assert_eq!((p[0].0.as_str(), p[0].1), ("results", 3), "{report}");
    assert!(
        p[0].2.contains("\"grad_x\" has 3 rows, expected 2"),
        "{report}"
    );
}
