//! The margin family's heads through the command line: `eval` loss lines with a
//! `"head"`, `vectors --head` (version 3 lines beside unchanged version 2 lines) and
//! `check` judging them; names spelled the same in JSON and on the command line,
//! unknown names as line-numbered errors while the rest of a batch is evaluated.
#![cfg(feature = "cli")]

mod common;

use serde_json::{Value, json};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_asoftmax-spec"))
}

fn eval(input: &str) -> (i32, Vec<Value>) {
    let out = common::run_with_stdin(&["eval"], input.as_bytes());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap(), lines)
}

fn vectors(args: &[&str]) -> Result<String, String> {
    let out = bin().arg("vectors").args(args).output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8(out.stderr).unwrap())
    }
}

fn tmp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("asoftmax-spec-heads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn check(v: &str, r: &str) -> (i32, String) {
    let (vp, rp) = (tmp("v.jsonl", v), tmp("r.jsonl", r));
    let out = bin().arg("check").arg(&vp).arg(&rp).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

const BATCH: &str = r#""x":[["0.3","-0.2"],["0.1","0.4"]],"w":[["1","0.5"],["-0.2","0.7"],["0.3","0.3"]],"y":[0,2]"#;

#[test]
fn eval_reads_heads_and_reports_bad_lines_by_number() {
    let lines = [
        format!(
            r#"{{"id":1,"op":"loss","head":"arcface","m":"0.5","fallback":"linear","semantics":"differentiable_acos","scale":"64",{BATCH},"grad":true}}"#
        ),
        format!(r#"{{"id":2,"op":"loss","head":"sphereface","m":"4",{BATCH}}}"#),
        format!(
            r#"{{"id":3,"op":"loss","head":"cosface","m":"0.35","variant":"l_softmax",{BATCH}}}"#
        ),
        format!(
            r#"{{"id":4,"op":"loss","head":"combined","m1":"2","m3":"0.1","fallback":"clamp_pi","semantics":"straight-through",{BATCH}}}"#
        ),
        format!(
            r#"{{"id":5,"op":"loss","head":"combined","m1":"2","m3":"0.1","fallback":"clamp_pi","semantics":"straight_through",{BATCH},"grad":true}}"#
        ),
        format!(r#"{{"id":6,"op":"loss","m":"4",{BATCH}}}"#),
    ];
    let (code, out) = eval(&(lines.join("\n") + "\n"));
    assert_eq!(code, 1);
    assert_eq!(out.len(), 6);
    assert!(
        out[0]["value"].is_string() && out[0]["grad_x"].is_array(),
        "{}",
        out[0]
    );
    let err = |i: usize| out[i]["error"].as_str().unwrap_or("").to_string();
    assert!(err(1).starts_with("line 2: "), "{}", err(1));
    // A head of the family that takes cosines is named as such, with the ones that take
    // features and weights.
    assert!(
        err(1).contains("head \"sphereface\" takes cosines")
            && err(1).contains("are taken by combined, arcface, cosface"),
        "{}",
        err(1)
    );
    assert!(err(2).contains("unknown field \"variant\""), "{}", err(2));
    // JSON spells names with "_" only (the "-" alias is the command line's).
    assert!(
        err(3).contains("unknown semantics \"straight-through\""),
        "{}",
        err(3)
    );
    assert!(out[4]["grad_w"].is_array(), "{}", out[4]);
    // An A-Softmax line keeps its meaning next to head lines.
    assert!(out[5]["value"].is_string(), "{}", out[5]);
}

#[test]
fn a_head_is_cosine_logits_with_its_target_logit() {
    // One sample along W_0 (c_0 = 1, c_1 = 0), CosFace m = 1/4, s = 4: logits 3 and 0,
    // loss ln(1 + e^−3); ArcFace m = 1/2 at c = 1 has slope +∞: a gradient request is an
    // error that says so, the value alone is fine.
    let one = r#""x":[["2","0"]],"w":[["3","0"],["0","5"]],"y":[0],"scale":"4""#;
    let input = format!(
        "{{\"op\":\"loss\",\"head\":\"cosface\",\"m\":\"0.25\",{one},\"grad\":true}}\n\
         {{\"op\":\"loss\",\"head\":\"arcface\",\"m\":\"0.5\",{one},\"grad\":true}}\n\
         {{\"op\":\"loss\",\"head\":\"arcface\",\"m\":\"0.5\",{one}}}\n"
    );
    let (_, out) = eval(&input);
    let want = (-3.0f64).exp().ln_1p();
    let got: f64 = out[0]["value"].as_str().unwrap().parse().unwrap();
    assert!((got - want).abs() <= 1e-16, "{} vs {want}", out[0]["value"]);
    assert!(
        out[1]["error"].as_str().unwrap().contains("slope +inf"),
        "{}",
        out[1]
    );
    assert!(out[2]["value"].is_string(), "{}", out[2]);
}

fn head_args() -> Vec<&'static str> {
    vec![
        "--op",
        "loss",
        "--dtype",
        "f64",
        "--count",
        "3",
        "--scale",
        "64",
        "--head",
        "arcface",
        "--head-m",
        "0.5",
        "--fallback",
        "linear",
        "--semantics",
        "differentiable-acos",
    ]
}

#[test]
fn head_vectors_are_version_3_and_deterministic() {
    let a = vectors(&head_args()).unwrap();
    assert_eq!(a, vectors(&head_args()).unwrap());
    let first: Value = serde_json::from_str(a.lines().next().unwrap()).unwrap();
    assert_eq!(first["vectors_version"], 3);
    assert_eq!(first["head"], "arcface");
    assert_eq!(first["m"], "0.5");
    assert_eq!(first["fallback"], "linear");
    assert_eq!(first["semantics"], "differentiable_acos");
    assert_eq!(first["id"], "loss/f64/arcface/00000");
    assert!(first.get("variant").is_none() && first.get("backward").is_none());
    // Lines without a head keep version 2.
    let plain = vectors(&["--op", "loss", "--m", "4", "--count", "1", "--dtype", "f64"]).unwrap();
    let p: Value = serde_json::from_str(plain.lines().next().unwrap()).unwrap();
    assert_eq!(p["vectors_version"], 2);
}

#[test]
fn bad_head_options_are_clear_errors() {
    let e = vectors(&["--op", "loss", "--head-m", "0.5"]).unwrap_err();
    assert!(e.contains("need --head"), "{e}");
    let e = vectors(&["--op", "loss", "--head", "cosface"]).unwrap_err();
    assert!(e.contains("--head-m"), "{e}");
    let e = vectors(&[
        "--op", "loss", "--head", "cosface", "--head-m", "0.3", "--m1", "2",
    ])
    .unwrap_err();
    assert!(e.contains("unknown field \"m1\""), "{e}");
    let e = vectors(&["--op", "loss", "--head", "arcface", "--head-m", "4"]).unwrap_err();
    assert!(e.contains("m2"), "{e}");
    // A head on cosines is generated on cosine batches (version 4, tests/cli_cos_vectors.rs)
    // and takes no margin options.
    let v = vectors(&["--op", "loss", "--head", "sphereface", "--count", "1"]).unwrap();
    assert!(v.contains("\"vectors_version\":4"), "{v}");
    let e = vectors(&["--op", "loss", "--head", "sphereface", "--head-m", "2"]).unwrap_err();
    assert!(e.contains("published states"), "{e}");
    let e = vectors(&["--op", "loss", "--head", "spherefaec"]).unwrap_err();
    assert!(
        e.contains(
            "unknown head \"spherefaec\" (expected one of: combined, arcface, cosface, sphereface"
        ),
        "{e}"
    );
}

/// Results echoing the vectors' correctly rounded f64 values.
fn perfect(v: &str) -> Vec<Value> {
    v.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let pick = |g: &Value| g["f64"].clone();
            let mut r = json!({"id": v["id"], "value": pick(&v)});
            for k in ["grad_x", "grad_w"] {
                r[k] = v[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|row| row.as_array().unwrap().iter().map(pick).collect::<Value>())
                    .collect::<Value>();
            }
            r
        })
        .collect()
}

fn text(v: &[Value]) -> String {
    v.iter().map(|x| format!("{x}\n")).collect()
}

#[test]
fn check_judges_head_vectors() {
    let v = vectors(&head_args()).unwrap();
    let mut res = perfect(&v);
    let (code, out) = check(&v, &text(&res));
    assert_eq!(code, 0, "{out}");
    // A wrong loss fails and is named.
    res[0]["value"] = json!("1e3");
    let (code, out) = check(&v, &text(&res));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("loss/f64/arcface/00000"), "{out}");
    // A head line claiming version 2 is a line-numbered problem.
    let old = v.replacen("\"vectors_version\":3", "\"vectors_version\":2", 1);
    let (code, out) = check(&old, &text(&perfect(&v)));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("needs vectors_version 3"), "{out}");
}
