//! The `eval` JSON Lines contract, end to end through the binary.
#![cfg(feature = "cli")]

mod common;

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

fn run(input: &str) -> (Vec<Value>, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_asoftmax-spec"))
        .arg("eval")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
        .collect();
    (lines, out.status.code().unwrap())
}

#[test]
fn shipped_cases_all_evaluate() {
    let input = std::fs::read_to_string("examples/cases.jsonl").unwrap();
    let (out, code) = run(&input);
    assert_eq!(code, 0, "{out:?}");
    assert_eq!(
        out.len(),
        input.lines().filter(|l| !l.trim().is_empty()).count()
    );
    for (line, v) in input.lines().zip(&out) {
        let req: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["id"], req["id"]);
        assert_eq!(v["op"], req["op"]);
        assert!(
            v["value"].is_string() && v["f64"].is_string() && v["f32"].is_string(),
            "{v}"
        );
    }
}

#[test]
fn bad_lines_give_error_lines_and_the_rest_is_evaluated() {
    let input = std::fs::read_to_string("examples/bad_cases.jsonl").unwrap();
    let (out, code) = run(&input);
    assert_eq!(code, 1);
    assert_eq!(out.len(), input.lines().count());
    let (last, errors) = out.split_last().unwrap();
    for (i, e) in errors.iter().enumerate() {
        let msg = e["error"]
            .as_str()
            .unwrap_or_else(|| panic!("line {}: {e}", i + 1));
        assert!(msg.starts_with(&format!("line {}: ", i + 1)), "{msg}");
        assert_eq!(e["line"], i + 1);
    }
    assert_eq!(last["id"], "still evaluated after errors");
    assert_eq!(last["f64"], "-0x1.2c226809d4952p+1");
}

#[test]
fn values_are_correctly_rounded_and_digits_match_prec() {
    // T_2(x) = 2x² − 1 at x = 0.1 exactly is −0.98: its f64 is the double nearest −0.98.
    let (out, code) = run(r#"{"op":"cos_m","m":2,"cos":"0.1","prec":64,"id":7}"#);
    assert_eq!(code, 0);
    let v = &out[0];
    assert_eq!(v["id"], 7);
    assert_eq!(v["f64"], asoftmax_spec::arith::hex_f64(-0.98));
    assert_eq!(v["f32"], asoftmax_spec::arith::hex_f32(-0.98f32));
    // 64 bits → ⌈64·log10 2⌉ + 1 = 21 significant digits.
    assert_eq!(v["value"], "-9.80000000000000000000e-1");
}

#[test]
fn json_numbers_are_the_f64_they_parse_to() {
    // 0.1 as a JSON number is the double 0x1.999999999999ap-4, not 1/10.
    let (out, _) = run(
        "{\"op\":\"cos_m\",\"m\":1,\"cos\":0.1,\"prec\":128}\n{\"op\":\"cos_m\",\"m\":1,\"cos\":\"0.1\",\"prec\":128}",
    );
    assert_eq!(
        out[0]["value"],
        "1.000000000000000055511151231257827021182e-1"
    );
    assert_eq!(
        out[1]["value"],
        "1.000000000000000000000000000000000000000e-1"
    );
}

#[test]
fn invalid_utf8_and_blank_lines() {
    let out = common::run_with_stdin(
        &["eval"],
        b"\xff\xfe\n\n{\"op\":\"cos_m\",\"m\":0,\"cos\":0.5}\n",
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("not valid UTF-8"));
    assert!(lines[1].contains("\"f64\":\"0x1p+0\""));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_asoftmax-spec"))
        .args(["eval", "no/such/file.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open no/such/file.jsonl"));
}

#[test]
fn loss_lines_have_gradient_matrices_of_the_input_shapes() {
    let (out, code) = run(
        r#"{"op":"loss","m":4,"x":[[2,0],[1,1]],"w":[[1,0],[0,3],[1,1]],"y":[0,2],"grad":true,"prec":32}"#,
    );
    assert_eq!(code, 0, "{out:?}");
    let gx = out[0]["grad_x"].as_array().unwrap();
    let gw = out[0]["grad_w"].as_array().unwrap();
    assert_eq!((gx.len(), gx[0].as_array().unwrap().len()), (2, 2));
    assert_eq!((gw.len(), gw[0].as_array().unwrap().len()), (3, 2));
    for g in gx.iter().chain(gw).flat_map(|r| r.as_array().unwrap()) {
        assert!(
            g["value"].is_string() && g["f64"].is_string() && g["f32"].is_string(),
            "{g}"
        );
    }
    // Without "grad" there are no gradient fields.
    let (out, _) = run(r#"{"op":"loss","m":4,"x":[[2,0]],"w":[[1,0],[0,3]],"y":[0]}"#);
    assert!(out[0].get("grad_x").is_none());
}

#[test]
fn a_rounding_midpoint_is_computed_exactly_and_not_flagged() {
    // Three equal samples, two equal rows (L-Softmax, m = 1): ∂L/∂W_1 = (1/3)·½·3x with
    // x = 1 + 2^−24 is ½ + 2^−25, halfway between two f32, computed through 1/3.
    let x = r#"["0x1.000001p+0"]"#;
    let (out, code) = run(&format!(
        r#"{{"op":"loss","variant":"l_softmax","m":1,"x":[{x},{x},{x}],"w":[[1],[1]],"y":[0,0,0],"grad":true,"prec":64}}"#
    ));
    assert_eq!(code, 0, "{out:?}");
    let g = &out[0]["grad_w"][1][0];
    assert_eq!(g["f64"], "0x1.000001p-1", "{g}");
    assert_eq!(g["f32"], "0x1p-1", "ties to even: {g}");
    // Proven, not assumed: the retired tie fields are never written.
    assert!(
        g.get("tie_format").is_none() && g.get("tie_bound").is_none(),
        "{g}"
    );
    assert!(out[0]["grad_x"][0][0].get("zero_bound").is_none());
    assert!(out[0].get("tie_format").is_none());
}

#[test]
fn lambda_margin_and_m_min_ops() {
    let (out, code) = run(concat!(
        "{\"op\":\"lambda\",\"iter\":0}\n",
        "{\"op\":\"lambda\",\"iter\":1000000}\n",
        "{\"op\":\"angular_margin\",\"m\":3,\"angle\":\"0.5\",\"prec\":64}\n",
        "{\"op\":\"m_min\",\"setting\":\"multiclass\",\"prec\":64}\n",
    ));
    assert_eq!(code, 0, "{out:?}");
    assert_eq!(out[0]["f64"], "0x1.f4p+9"); // 1000
    assert_eq!(out[1]["f64"], "0x1.4p+2"); // λ_min = 5
    assert_eq!(out[2]["value"], "2.50000000000000000000e-1"); // (3−1)/(3+1)·0.5
    assert_eq!(out[3]["f64"], "0x1.8p+1"); // 3
}
