//! `vectors` and `check` end to end through the binary.
#![cfg(feature = "cli")]

mod common;

use common::{bin, vectors};
use serde_json::{Value, json};

/// `text` in a file `name` of this test's temporary directory.
fn tmp(name: &str, text: &str) -> std::path::PathBuf {
    common::tmp("asoftmax-spec-test", name, text)
}

fn check(v: &std::path::Path, r: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let out = bin()
        .arg("check")
        .arg(v)
        .arg(r)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// Results that echo the vectors' correctly rounded values of `dtype`.
fn perfect_results(vectors: &str, dtype: &str) -> Vec<Value> {
    vectors
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let pick = |g: &Value| g[dtype].clone();
            let mut r = json!({"id": v["id"], "value": pick(&v)});
            if v["op"] == "loss" {
                for k in ["grad_x", "grad_w"] {
                    r[k] = Value::Array(
                        v[k].as_array()
                            .unwrap()
                            .iter()
                            .map(|row| {
                                Value::Array(row.as_array().unwrap().iter().map(pick).collect())
                            })
                            .collect(),
                    );
                }
            }
            r
        })
        .collect()
}

fn lines(v: &[Value]) -> String {
    v.iter().map(|x| format!("{x}\n")).collect()
}

#[test]
fn vectors_are_deterministic_and_seeded() {
    let args = [
        "--op", "psi,loss", "--m", "3..=4", "--count", "5", "--dtype", "f32",
    ];
    let a = vectors(&args);
    assert_eq!(a, vectors(&args));
    let mut other = args.to_vec();
    other.extend(["--seed", "7"]);
    assert_ne!(a, vectors(&other));
    // Edge cases come first: c = 1 then its lower neighbour.
    let first: Value = serde_json::from_str(a.lines().next().unwrap()).unwrap();
    assert_eq!(first["cos"], "0x1p+0");
    assert_eq!(first["vectors_version"], 2);
    // Every id is unique.
    let ids: std::collections::HashSet<String> = a
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].to_string())
        .collect();
    assert_eq!(ids.len(), a.lines().count());
}

#[test]
fn correctly_rounded_results_pass_and_a_perturbed_one_fails() {
    for dtype in ["f32", "f64", "f16", "bf16"] {
        let v = vectors(&[
            "--op",
            "cos_m,psi,dpsi_dcos,loss",
            "--m",
            "1..=4",
            "--count",
            "20",
            "--dtype",
            dtype,
        ]);
        let vp = tmp(&format!("v-{dtype}.jsonl"), &v);
        let mut res = perfect_results(&v, dtype);
        let rp = tmp(&format!("r-{dtype}.jsonl"), &lines(&res));
        let (code, text) = check(&vp, &rp, &[]);
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("check: PASS"), "{text}");
        // One ψ result off by a lot: the check fails and names the id.
        let idx = res
            .iter()
            .position(|r| r["id"].as_str().unwrap().starts_with("psi/"))
            .unwrap();
        res[idx]["value"] = json!("0.5");
        let rp = tmp(&format!("r2-{dtype}.jsonl"), &lines(&res));
        let (code, text) = check(&vp, &rp, &[]);
        assert_eq!(code, 1, "{text}");
        assert!(text.contains(res[idx]["id"].as_str().unwrap()), "{text}");
    }
}

#[test]
fn malformed_missing_duplicate_and_extra_lines_are_reported_with_line_numbers() {
    let v = vectors(&["--op", "psi", "--m", "4", "--count", "4", "--dtype", "f64"]);
    let vp = tmp("v-bad.jsonl", &v);
    let res = perfect_results(&v, "f64");
    // line 1 ok, line 2 duplicate of line 1, line 3 garbage, line 4 unknown id,
    // line 5 NaN value, and the vectors' 3rd and 4th ids are missing.
    let text = format!(
        "{}\n{}\nnot json\n{}\n{}\n",
        res[0],
        res[0],
        json!({"id":"nope","value":1}),
        json!({"id": res[1]["id"], "value": "nan"})
    );
    let rp = tmp("r-bad.jsonl", &text);
    let before = std::fs::read(&rp).unwrap();
    let (code, out) = check(&vp, &rp, &["--format", "json"]);
    assert_eq!(code, 1);
    assert_eq!(
        std::fs::read(&rp).unwrap(),
        before,
        "check must not modify its input"
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["passed"], false);
    let problems = report["problems"].as_array().unwrap();
    let has = |line: u64, word: &str| {
        problems
            .iter()
            .any(|p| p["line"] == line && p["problem"].as_str().unwrap().contains(word))
    };
    assert!(has(2, "duplicate"), "{out}");
    assert!(has(3, "invalid JSON"), "{out}");
    assert!(has(4, "not in the vectors"), "{out}");
    let missing = problems
        .iter()
        .filter(|p| p["problem"].as_str().unwrap().contains("no result"))
        .count();
    assert_eq!(missing, 2, "{out}");
    // The NaN result is a tolerance failure, not a parse problem.
    let psi = report["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "psi f64")
        .unwrap();
    assert_eq!(psi["failures"], 1, "{out}");
}

#[test]
fn incompatible_vectors_version_is_refused() {
    let v = vectors(&["--op", "psi", "--m", "2", "--count", "1", "--dtype", "f64"])
        .replace("\"vectors_version\":2", "\"vectors_version\":99");
    let vp = tmp("v-old.jsonl", &v);
    let rp = tmp("r-old.jsonl", "");
    let (code, out) = check(&vp, &rp, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("incompatible vectors file"), "{out}");
}

#[test]
fn bad_flags_and_unreadable_files_are_clear_errors() {
    let out = bin().args(["vectors", "--m", "8..=2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty margin range"));
    let out = bin()
        .args(["vectors", "--op", "nope", "--m", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown op \"nope\""));
    let out = bin()
        .args(["check", "/no/such/v", "/no/such/r"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /no/such/v"));
}

#[test]
fn autocast_loss_vectors_take_float32_results_judged_in_16_bit_ulps() {
    for dtype in ["f16", "bf16"] {
        let args = [
            "--op", "loss", "--m", "1..=4", "--count", "3", "--dtype", dtype, "--scheme",
            "autocast", "--scale", "64",
        ];
        let v = vectors(&args);
        let first: Value = serde_json::from_str(v.lines().next().unwrap()).unwrap();
        assert_eq!(first["scheme"], "autocast");
        let vp = tmp(&format!("va-{dtype}.jsonl"), &v);
        // The correctly rounded float32 values: far inside the 16-bit allowance.
        let mut res = perfect_results(&v, "f32");
        let (code, text) = check(&vp, &tmp(&format!("ra-{dtype}.jsonl"), &lines(&res)), &[]);
        assert_eq!(code, 0, "{text}");
        assert!(
            text.contains(&format!("loss {dtype} autocast: 12 cases, 0 failures")),
            "{text}"
        );
        // A NaN gradient (an fp16 overflow somewhere) fails.
        res[0]["grad_x"][0][0] = json!("nan");
        let (code, text) = check(&vp, &tmp(&format!("rb-{dtype}.jsonl"), &lines(&res)), &[]);
        assert_eq!(code, 1, "{text}");
        assert!(
            text.contains(&format!("grad_x {dtype} autocast: 12 cases, 1 failures")),
            "{text}"
        );
    }
    // Autocast takes 16-bit inputs only.
    let out = bin()
        .args([
            "vectors", "--op", "loss", "--dtype", "f32", "--scheme", "autocast",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn round_to_odd_rounds_to_every_listed_format() {
    let v = vectors(&[
        "--op",
        "cos_m,psi,dpsi_dcos,loss",
        "--m",
        "1..=4",
        "--count",
        "30",
        "--dtype",
        "f64",
        "--round-to-odd",
    ]);
    let hex = |t: &Value| {
        let r = asoftmax_spec::arith::parse_exact(t.as_str().unwrap()).unwrap();
        r.to_f64()
    };
    let mut checked = 0;
    let mut judge = |o: &Value| {
        let odd = hex(&o["f64_odd"]);
        // The hardware's f64 → f32 conversion (round to nearest even) of the round-to-odd
        // is the correctly rounded f32; the crate's own rounding gives f16 and bf16.
        assert_eq!(f64::from(odd as f32), hex(&o["f32"]), "{o}");
        for (name, fmt) in [
            ("f16", asoftmax_spec::arith::Format::F16),
            ("bf16", asoftmax_spec::arith::Format::Bf16),
        ] {
            assert_eq!(
                asoftmax_spec::arith::round_f64_to(odd, fmt),
                hex(&o[name]),
                "{o}"
            );
        }
        checked += 1;
    };
    for l in v.lines() {
        let o: Value = serde_json::from_str(l).unwrap();
        judge(&o);
        for k in ["grad_x", "grad_w"] {
            for row in o[k].as_array().into_iter().flatten() {
                row.as_array().unwrap().iter().for_each(&mut judge);
            }
        }
    }
    assert!(checked > 300, "{checked}");
}
