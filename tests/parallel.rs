//! Parallel evaluation gives the same bytes at any thread count: `eval`, `vectors` and
//! `check` with `RAYON_NUM_THREADS=1` against 3 threads, and the loss oracle run inside
//! pools of 1 and 3 threads (`arith::par::with_threads`).
#![cfg(feature = "cli")]

use asoftmax_spec::arith::par;
use asoftmax_spec::loss::{LossSpec, Variant, loss};
use rug::Rational;
use std::process::{Command, Output};

fn run(threads: usize, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_asoftmax-spec"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .expect("the binary runs");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{args:?}: {out:?}"
    );
    out
}

/// The same stdout, stderr and exit status with 1 and 3 threads.
fn same_at_1_and_3(args: &[&str]) -> Vec<u8> {
    let (one, three) = (run(1, args), run(3, args));
    assert_eq!(one.stdout, three.stdout, "{args:?}: stdout differs");
    assert_eq!(one.stderr, three.stderr, "{args:?}: stderr differs");
    assert_eq!(one.status.code(), three.status.code(), "{args:?}");
    one.stdout
}

#[test]
fn eval_is_thread_count_independent() {
    let cases = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cases.jsonl");
    let bad = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/bad_cases.jsonl");
    assert!(!same_at_1_and_3(&["eval", cases]).is_empty());
    // Error lines keep their line numbers, and the other lines are still evaluated.
    let out = String::from_utf8(same_at_1_and_3(&["eval", bad])).unwrap();
    assert!(out.lines().any(|l| l.contains("\"line\":")), "{out}");
}

#[test]
fn vectors_and_check_are_thread_count_independent() {
    let dir = std::env::temp_dir().join(format!("asoftmax-spec-parallel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let vec_args = [
        "vectors",
        "--op",
        "cos_m,psi,dpsi_dcos,loss",
        "--dtype",
        "f64",
        "--m",
        "1..=4",
        "--count",
        "12",
        "--classes",
        "5",
        "--dim",
        "3",
        "--batch",
        "3",
    ];
    let vectors = same_at_1_and_3(&vec_args);
    let vpath = dir.join("vectors.jsonl");
    std::fs::write(&vpath, &vectors).unwrap();
    // Results: the oracle's own f64 (every line), one line perturbed, one unparsable.
    let mut results = String::new();
    for (i, line) in String::from_utf8(vectors).unwrap().lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let pick = |g: &serde_json::Value| -> serde_json::Value {
            g.as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e["f64"].clone())
                        .collect::<serde_json::Value>()
                })
                .collect()
        };
        let value = if i == 7 {
            serde_json::json!("0.125")
        } else {
            v["f64"].clone()
        };
        let mut r = serde_json::json!({"id": v["id"], "value": value});
        if v["op"] == "loss" {
            r["grad_x"] = pick(&v["grad_x"]);
            r["grad_w"] = pick(&v["grad_w"]);
        }
        results.push_str(&format!("{r}\n"));
        if i == 3 {
            results.push_str("{not json\n");
        }
    }
    let rpath = dir.join("results.jsonl");
    std::fs::write(&rpath, results).unwrap();
    let (v, r) = (vpath.to_str().unwrap(), rpath.to_str().unwrap());
    let text = String::from_utf8(same_at_1_and_3(&["check", v, r])).unwrap();
    assert!(
        text.contains("check: FAIL") && text.contains("results line 5"),
        "{text}"
    );
    same_at_1_and_3(&["check", v, r, "--format", "json"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn loss_oracle_is_thread_count_independent() {
    let q = |n: i64, d: i64| Rational::from((n, d));
    // Saturated and tied logits, a margin target, several samples and classes.
    let x = vec![
        vec![q(3, 1), q(-1, 2), q(1, 7)],
        vec![q(1, 3), q(2, 1), q(-5, 4)],
        vec![q(3, 1), q(-1, 2), q(1, 7)],
        vec![q(-2, 1), q(1, 9), q(4, 1)],
    ];
    let w = vec![
        vec![q(1, 1), q(0, 1), q(0, 1)],
        vec![q(0, 1), q(1, 1), q(0, 1)],
        vec![q(0, 1), q(0, 1), q(1, 1)],
        vec![q(1, 2), q(1, 2), q(-1, 3)],
        vec![q(1, 1), q(0, 1), q(0, 1)],
    ];
    for variant in [Variant::ASoftmax, Variant::LSoftmax] {
        let mut spec = LossSpec::new(x.clone(), w.clone(), vec![0, 3, 4, 2], Rational::from(4));
        spec.variant = variant;
        spec.scale = Rational::from(30);
        let show = |threads| {
            par::with_threads(Some(threads), || {
                let out = loss(&spec, true, 128).unwrap();
                let all = std::iter::once(&out.loss)
                    .chain(out.grad_x.iter().flatten().flatten())
                    .chain(out.grad_w.iter().flatten().flatten());
                all.map(|a| format!("{} {} {}", a.decimal(), a.f64(), a.f32()))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(show(1), show(3), "{variant:?}");
    }
}
