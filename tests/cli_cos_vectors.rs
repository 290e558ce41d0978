//! `vectors --op loss --head K` for the heads on cosines (version 4 lines) and `check`
//! judging them: f64 implementations of CurricularFace and SphereFace written here from
//! the published definitions (CurricularFace's `cos_theta_m`, `th`, `mm` and hard-example
//! mask; opensphere's ψ with a real `m`) pass; the same implementations with the margin in
//! degrees, without the linear fallback or without the hard-example modulation fail; a
//! malformed result is a problem line while the other results are judged; a vectors file
//! of version 4 lines fed to `eval` gives the oracle's fields back.
#![cfg(feature = "cli")]

mod common;

use common::{bin, vectors};

use asoftmax_spec::arith::exact::f64_of_text;
use serde_json::{Value, json};
use std::f64::consts::PI;
use std::sync::OnceLock;

/// `text` in a file `name` of this test's temporary directory.
fn tmp(name: &str, text: &str) -> std::path::PathBuf {
    common::tmp("asoftmax-spec-cosvec", name, text)
}

/// `check VECTORS RESULTS`: (passed, report text).
fn check(name: &str, vecs: &str, results: &str) -> (bool, String) {
    let vp = tmp(&format!("{name}.vec"), vecs);
    let rp = tmp(&format!("{name}.res"), results);
    let out = bin().arg("check").arg(&vp).arg(&rp).output().unwrap();
    let _ = std::fs::remove_file(&vp);
    let _ = std::fs::remove_file(&rp);
    let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn num(v: &Value) -> f64 {
    f64_of_text(v.as_str().expect("a numeric string")).unwrap()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// How an implementation departs from the published definition.
#[derive(Clone, Copy, PartialEq)]
enum Flaw {
    None,
    /// The margin taken in degrees (`m·π/180`).
    Degrees,
    /// `cos(θ + m)` everywhere: no linear fallback beyond `θ = π − m`.
    NoFallback,
    /// CurricularFace's hard negatives left at `c` (no `c·(t + c)`).
    NoModulation,
}

/// A head's logits and slopes for one row: `(logit/s, d(logit)/dc)` per class.
type RowFn<'a> = dyn Fn(&[f64], usize) -> Vec<(f64, f64)> + 'a;

/// The softmax cross-entropy of `s·logits`, mean over rows, and `∂L/∂c`.
fn softmax_loss(cos: &[Vec<f64>], y: &[usize], s: f64, row: &RowFn) -> (f64, Vec<Vec<f64>>) {
    let n = cos.len() as f64;
    let mut loss = 0.0;
    let mut grad = Vec::new();
    for (c, &yi) in cos.iter().zip(y) {
        let ls = row(c, yi);
        let f: Vec<f64> = ls.iter().map(|l| s * l.0).collect();
        let fmax = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = f.iter().map(|v| (v - fmax).exp()).collect();
        let sum: f64 = e.iter().sum();
        loss += (fmax + sum.ln() - f[yi]) / n;
        grad.push(
            (0..c.len())
                .map(|j| (e[j] / sum - f64::from(u8::from(j == yi))) * s * ls[j].1 / n)
                .collect(),
        );
    }
    (loss, grad)
}

/// CurricularFace (Huang et al. 2020, the published `CurricularFace` head), in f64.
fn curricular_row(m: f64, t: f64, flaw: Flaw) -> impl Fn(&[f64], usize) -> Vec<(f64, f64)> {
    let m = if flaw == Flaw::Degrees {
        m * PI / 180.0
    } else {
        m
    };
    move |c: &[f64], y: usize| {
        let cy = c[y];
        let sin_y = (1.0 - cy * cy).max(0.0).sqrt();
        let ctm = cy * m.cos() - sin_y * m.sin();
        let (th, mm) = ((PI - m).cos(), (PI - m).sin() * m);
        let target = if cy > th || flaw == Flaw::NoFallback {
            (ctm, m.cos() + cy * m.sin() / sin_y)
        } else {
            (cy - mm, 1.0)
        };
        c.iter()
            .enumerate()
            .map(|(j, &cj)| {
                if j == y {
                    target
                } else if cj > ctm && flaw != Flaw::NoModulation {
                    (cj * (t + cj), t + 2.0 * cj)
                } else {
                    (cj, 1.0)
                }
            })
            .collect()
    }
}

/// opensphere's SphereFace with a real `m`: `ψ(θ) = (−1)^k·cos(mθ) − 2k`, `k = ⌊mθ/π⌋`,
/// with `ψ − c` under `no_grad` (every slope 1).
fn sphereface_row(m: f64, flaw: Flaw) -> impl Fn(&[f64], usize) -> Vec<(f64, f64)> {
    move |c: &[f64], y: usize| {
        c.iter()
            .enumerate()
            .map(|(j, &cj)| {
                if j != y {
                    return (cj, 1.0);
                }
                let theta = cj.clamp(-1.0, 1.0).acos();
                let mt = if flaw == Flaw::Degrees {
                    m * theta * PI / 180.0
                } else {
                    m * theta
                };
                let k = (mt / PI).floor();
                let sign = if k.rem_euclid(2.0) == 0.0 { 1.0 } else { -1.0 };
                (sign * mt.cos() - 2.0 * k, 1.0)
            })
            .collect()
    }
}

/// The results of an implementation on a vectors file (`f64` JSON numbers).
fn results(vecs: &str, flaw: Flaw) -> String {
    let mut out = String::new();
    for v in lines(vecs) {
        let cos: Vec<Vec<f64>> = v["cos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(num).collect())
            .collect();
        let y: Vec<usize> = v["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_u64().unwrap() as usize)
            .collect();
        let s = num(&v["scale"]);
        let (loss, grad) = match v["head"].as_str().unwrap() {
            "curricularface" => {
                let row = curricular_row(num(&v["m"]), num(&v["t"]), flaw);
                softmax_loss(&cos, &y, s, &row)
            }
            "sphereface" => softmax_loss(&cos, &y, s, &sphereface_row(num(&v["m"]), flaw)),
            other => panic!("no implementation of {other} here"),
        };
        let mut r = json!({"id": v["id"], "value": loss});
        if v["grad"] == json!(true) {
            r["grad_cos"] = json!(grad);
        }
        out += &format!("{r}\n");
    }
    out
}

/// `vectors --op loss --head HEAD …args`, generated once per test binary into `cell`.
fn loss_vectors(cell: &'static OnceLock<String>, head: &str, args: &[&str]) -> String {
    cell.get_or_init(|| {
        let all: Vec<&str> = ["--op", "loss", "--head", head]
            .iter()
            .chain(args)
            .copied()
            .collect();
        vectors(&all)
    })
    .clone()
}

fn curricular_vectors() -> String {
    static V: OnceLock<String> = OnceLock::new();
    loss_vectors(
        &V,
        "curricularface",
        &[
            "--dtype",
            "f64",
            "--count",
            "24",
            "--batch",
            "3",
            "--classes",
            "4",
            "--scale",
            "64",
        ],
    )
}

/// In f32, with the straight-through semantics.
fn sphereface_vectors() -> String {
    static V: OnceLock<String> = OnceLock::new();
    loss_vectors(
        &V,
        "sphereface",
        &[
            "--dtype",
            "f32",
            "--count",
            "16",
            "--batch",
            "3",
            "--classes",
            "4",
            "--scale",
            "30",
            "--semantics",
            "straight_through",
        ],
    )
}

#[test]
fn version_4_lines_carry_the_head_state_cosines_and_oracle_outputs() {
    let vecs = curricular_vectors();
    let ls = lines(&vecs);
    assert_eq!(ls.len(), 24);
    for v in &ls {
        assert_eq!(v["vectors_version"], 4);
        assert_eq!(v["head"], "curricularface");
        assert_eq!(v["cos"].as_array().unwrap().len(), 3);
        assert!(v["value"].is_string());
        assert_eq!(v["grad"] == json!(true), v.get("grad_cos").is_some(), "{v}");
    }
    // The states of the head suite: t = 0, 3/8 and 1.
    let ts: std::collections::BTreeSet<&str> =
        ls.iter().map(|v| v["t"].as_str().unwrap()).collect();
    assert_eq!(ts.into_iter().collect::<Vec<_>>(), ["0", "0.375", "1"]);
    assert!(ls.iter().filter(|v| v["grad"] == json!(true)).count() >= 12);
}

#[test]
fn faithful_curricularface_and_sphereface_pass_check() {
    for (name, vecs) in [
        ("curricular", curricular_vectors()),
        ("sphereface", sphereface_vectors()),
    ] {
        let (ok, text) = check(name, &vecs, &results(&vecs, Flaw::None));
        assert!(ok, "{name}: {text}");
        assert!(text.contains("grad_cos f"), "{text}");
    }
}

#[test]
fn a_margin_in_degrees_fails() {
    for (name, vecs) in [
        ("curricular-deg", curricular_vectors()),
        ("sphereface-deg", sphereface_vectors()),
    ] {
        let (ok, text) = check(name, &vecs, &results(&vecs, Flaw::Degrees));
        assert!(!ok, "{name}: {text}");
        assert!(text.contains("check: FAIL"), "{text}");
    }
}

#[test]
fn a_missing_fallback_fails() {
    let vecs = curricular_vectors();
    let (ok, text) = check("nofallback", &vecs, &results(&vecs, Flaw::NoFallback));
    assert!(!ok, "{text}");
}

#[test]
fn ignoring_the_hard_example_modulation_fails() {
    let vecs = curricular_vectors();
    let (ok, text) = check("nomod", &vecs, &results(&vecs, Flaw::NoModulation));
    assert!(!ok, "{text}");
}

#[test]
fn a_malformed_result_is_a_problem_and_the_rest_is_judged() {
    let vecs = curricular_vectors();
    let res = results(&vecs, Flaw::None);
    let mut rs = lines(&res);
    let k = rs.iter().position(|r| r.get("grad_cos").is_some()).unwrap();
    rs[k]["grad_cos"] = json!([[1.0]]);
    let res: String = rs.iter().map(|r| format!("{r}\n")).collect();
    let (ok, text) = check("malformed", &vecs, &res);
    assert!(!ok, "{text}");
    assert!(text.contains(&format!("results line {}", k + 1)), "{text}");
    assert!(
        text.contains("\"grad_cos\" has 1 rows, expected 3"),
        "{text}"
    );
    // The other 23 results were judged (24 vectors, one malformed).
    assert!(text.contains("loss f64: 23 cases, 0 failures"), "{text}");
}

#[test]
fn a_version_4_file_fed_to_eval_gives_the_oracles_fields() {
    for head in [
        "sphereface",
        "sphereface_r",
        "sphereface2",
        "curricularface",
        "adaface",
        "magface",
    ] {
        let vecs = vectors(&[
            "--op", "loss", "--head", head, "--dtype", "f32", "--count", "8", "--batch", "3",
            "--scale", "16",
        ]);
        let out = common::run_with_stdin(&["eval"], vecs.as_bytes());
        let evals = lines(&String::from_utf8(out.stdout).unwrap());
        let vs = lines(&vecs);
        assert_eq!(evals.len(), vs.len(), "{head}");
        for (v, e) in vs.iter().zip(&evals) {
            for f in ["value", "f64", "f32", "grad_cos", "grad_a"] {
                assert_eq!(v.get(f), e.get(f), "{head} {f}: {e}");
            }
        }
        if head == "magface" {
            assert!(vs.iter().any(|v| v.get("grad_a").is_some()), "{vecs}");
        }
    }
}

#[test]
fn a_head_on_cosines_takes_no_margin_options() {
    let out = bin()
        .args([
            "vectors",
            "--op",
            "loss",
            "--head",
            "curricularface",
            "--head-m",
            "0.3",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("published states"));
}
