//! `eval`'s typed fast path (`cli::typed`) against the generic path (`cli::eval::eval_line`):
//! byte-identical output lines on the shipped cases, the bad cases, the mpmath
//! cross-check's generated set and generated edge inputs (ids of every JSON kind,
//! escapes, duplicate keys, fields in other orders, whitespace, ±0, subnormals, ±1,
//! malformed lines), and the environment switch that forces the generic path.
#![cfg(feature = "cli")]

mod common;

use asoftmax_spec::cli::eval::{Reader, eval_line, eval_stream_with};
use asoftmax_spec::cli::typed;

/// Every line of `input` through both paths, line by line (each typed answer must be the
/// generic path's bytes), then as whole streams. Returns how many lines the typed path
/// answered itself.
fn same_bytes(name: &str, input: &str) -> usize {
    let mut typed_lines = 0;
    for (i, text) in input.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let mut out = String::new();
        if let Some(is_err) = typed::eval_into(text, i + 1, &mut out) {
            typed_lines += 1;
            let (want, want_err) = eval_line(text, i + 1);
            assert_eq!(out, want.to_string(), "{name} line {}: {text}", i + 1);
            assert_eq!(is_err, want_err, "{name} line {}: {text}", i + 1);
        } else {
            assert!(out.is_empty(), "a declined line writes nothing: {text}");
        }
    }
    let run = |reader| {
        let mut out = Vec::new();
        let errors = eval_stream_with(input.as_bytes(), &mut out, reader).unwrap();
        (out, errors)
    };
    let (fast, generic) = (run(Reader::Typed), run(Reader::Generic));
    assert!(fast == generic, "{name}: the streams differ");
    typed_lines
}

#[test]
fn shipped_and_bad_cases() {
    for (file, min_typed) in [("examples/cases.jsonl", 5), ("examples/bad_cases.jsonl", 3)] {
        let input = std::fs::read_to_string(file).unwrap();
        let n = same_bytes(file, &input);
        // The typed path is really taken (else the comparison proves nothing).
        assert!(n >= min_typed, "{file}: only {n} lines on the typed path");
    }
}

#[test]
fn the_benchmark_lines_take_the_typed_path() {
    // As scripts/bench_eval.py writes them.
    let input: String = (0..200)
        .map(|i| {
            let c = ((i as f64) * 0.7548776662466927).fract() * 2.0 - 1.0;
            format!(
                "{{\"id\": {i}, \"op\": \"psi\", \"m\": {}, \"cos\": {c:?}, \"prec\": 256}}\n",
                1 + i % 8
            )
        })
        .collect();
    assert_eq!(same_bytes("bench", &input), 200);
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const IDS: &[&str] = &[
    "0",
    "-0",
    "7",
    "-12",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "1.50",
    "1E5",
    "1e5",
    "-2.5E+3",
    "1e-5",
    "0.0e-0",
    "\"s\"",
    "\"\"",
    "\"caf\\u00e9\"",
    "\"tab\\tnew\\nline\"",
    "\"quote\\\"slash\\\\\"",
    "\"é ünïcödé 😀\"",
    "\"\\ud83d\\ude00\"",
    "{\"b\":1,\"a\":[1,{\"c\":null}]}",
    "[1, 2.0, \"x\"]",
    "[]",
    "{}",
    "true",
    "false",
    "null",
];

const OPS: &[&str] = &[
    "\"cos_m\"",
    "\"psi\"",
    "\"dpsi_dcos\"",
    "\"dpsi_dtheta\"",
    "\"ps\\u0069\"",
    "\"PSI\"",
    "\"loss\"",
    "\"lambda\"",
    "\"m_min\"",
    "7",
    "null",
];

const MS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "8",
    "9",
    "16",
    "\"3\"",
    "\"2.5\"",
    "2.5",
    "1.5e0",
    "4.0",
    "4E0",
    "40e-1",
    "65536",
    "65537",
    "-1",
    "\"0x1p+2\"",
    "\"0x1.8p+1\"",
    "true",
    "null",
    "\"abc\"",
    "1e400",
    "\"1/2\"",
];

const ANGLES: &[&str] = &[
    "1",
    "-1",
    "1.0",
    "-1.0",
    "0",
    "-0",
    "0.0",
    "-0.0",
    "0e0",
    "-0E-0",
    "\"0\"",
    "\"-0\"",
    "\"-0.0\"",
    "5e-324",
    "-5e-324",
    "4.9e-324",
    "2.2250738585072014e-308",
    "2.225073858507201e-308",
    "1e-320",
    "\"1e-320\"",
    "\"0x1p-1074\"",
    "\"0x1.8p-1\"",
    "\"-0x1.6a09e667f3bcdp-1\"",
    "0.5",
    "-0.5",
    "\"0.5\"",
    "\"-0.5\"",
    "0.1",
    "\"0.1\"",
    "0.30000000000000004",
    "-0.999999",
    "0.9999999999999999",
    "1.0000001",
    "-1.0000000000000002",
    "1.5707963267948966",
    "3.141592653589793",
    "\"3.14159265358979323846264338327950288\"",
    "3.15",
    "1E-2",
    "1e+0",
    "0.25e1",
    "1e400",
    "\"nan\"",
    "\"inf\"",
    "\"1e100000\"",
    "\"\"",
    "null",
    "true",
    "[0.5]",
    "{\"x\":0.5}",
];

const PRECS: &[&str] = &[
    "16",
    "24",
    "53",
    "64",
    "113",
    "256",
    "15",
    "262145",
    "\"64\"",
    "64.0",
    "6.4e1",
    "-1",
    "null",
    "4294967296",
    "1e400",
    "true",
    "\"0x1p+6\"",
];

const EXTRAS: &[&str] = &[
    "\"f64\":\"0x1p+0\"",
    "\"dtype\":\"f32\"",
    "\"value\":null",
    "\"vectors_version\":1",
    "\"origin\":{\"x\":1}",
    "\"scheme\":[1]",
    "\"zero_bound\":\"1e-300\"",
    "\"tie_format\":\"f\\u0033\"",
    "\"unknown\":1",
    "\"iter\":5",
    "\"grad_x\":[[1]]",
    "\"theta\":null",
    "\"cos\":null",
    "\"m\":3",
    "\"op\":\"psi\"",
];

/// JSON whitespace (and, rarely, what is not JSON whitespace).
fn space(rng: &mut Rng) -> &'static str {
    match rng.next() % 16 {
        0 => " ",
        1 => "\t",
        2 => "  \t ",
        3 => "\r",
        4 if rng.chance(10) => "\u{a0}",
        4 if rng.chance(10) => "\u{b}",
        _ => "",
    }
}

/// One generated line: fields in random order, with random spacing and defects.
fn edge_line(rng: &mut Rng) -> String {
    let mut fields: Vec<String> = Vec::new();
    let field = |fields: &mut Vec<String>, rng: &mut Rng, key: &str, v: &str| {
        fields.push(format!("\"{key}\"{}:{}{v}", space(rng), space(rng)));
    };
    if rng.chance(80) {
        let v = rng.pick(IDS);
        field(&mut fields, rng, "id", v);
    }
    if rng.chance(97) {
        let v = rng.pick(OPS);
        field(&mut fields, rng, "op", v);
    }
    if rng.chance(95) {
        let v = rng.pick(MS);
        field(&mut fields, rng, "m", v);
    }
    let key = if rng.chance(40) { "theta" } else { "cos" };
    if rng.chance(97) {
        let v = rng.pick(ANGLES);
        field(&mut fields, rng, key, v);
    }
    if rng.chance(4) {
        let other = if key == "cos" { "theta" } else { "cos" };
        let v = rng.pick(ANGLES);
        field(&mut fields, rng, other, v);
    }
    if rng.chance(60) {
        let v = rng.pick(PRECS);
        field(&mut fields, rng, "prec", v);
    }
    if rng.chance(25) {
        let v = rng.pick(&["true", "false", "null", "1", "\"true\""]);
        field(&mut fields, rng, "round_to_odd", v);
    }
    if rng.chance(15) {
        fields.push(rng.pick(EXTRAS).to_string());
    }
    if rng.chance(4) {
        // A duplicate key, with another value.
        let v = rng.pick(ANGLES);
        field(&mut fields, rng, key, v);
    }
    if rng.chance(3) {
        // An escaped key that reads as a known one.
        fields.push("\"\\u0070rec\":64".into());
    }
    // Shuffle.
    for i in (1..fields.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        fields.swap(i, j);
    }
    let sep = format!("{},{}", space(rng), space(rng));
    let mut line = format!("{}{{{}", space(rng), space(rng));
    line += &fields.join(&sep);
    line += &format!("{}}}{}", space(rng), space(rng));
    match rng.next() % 60 {
        0 => line.push(','),
        1 => line.push_str("{}"),
        2 => {
            line.pop();
        }
        3 => line = line.replacen(':', "", 1),
        4 => line.insert(line.len() / 2, 'x'),
        5 => line = format!("[{line}]"),
        _ => {}
    }
    line
}

#[test]
fn generated_edge_lines() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let lines: Vec<String> = (0..4000).map(|_| edge_line(&mut rng)).collect();
    let input = lines.join("\n") + "\n";
    let n = same_bytes("edge", &input);
    // Both paths are exercised: a good share of the lines is answered by the typed path.
    assert!(n > 200 && n < 3600, "typed path took {n} of 4000 lines");
}

#[test]
fn every_choice_of_one_field_at_a_time() {
    // Each listed value in a line that is otherwise plain, so that none is left to chance.
    let mut input = String::new();
    let line = |id: &str, op: &str, m: &str, key: &str, x: &str, prec: &str| {
        format!("{{\"id\":{id},\"op\":{op},\"m\":{m},\"{key}\":{x},\"prec\":{prec}}}\n")
    };
    for id in IDS {
        input += &line(id, "\"psi\"", "4", "cos", "0.3", "64");
    }
    for op in OPS {
        input += &line("1", op, "3", "cos", "-0.7", "64");
        input += &line("1", op, "3", "theta", "2.5", "64");
    }
    for m in MS {
        for op in ["\"cos_m\"", "\"psi\"", "\"dpsi_dcos\"", "\"dpsi_dtheta\""] {
            input += &line("2", op, m, "cos", "0.6", "53");
            input += &line("2", op, m, "theta", "\"0.6\"", "53");
        }
    }
    for x in ANGLES {
        for op in ["\"cos_m\"", "\"psi\"", "\"dpsi_dcos\"", "\"dpsi_dtheta\""] {
            for m in ["1", "4", "\"2.5\""] {
                input += &line("3", op, m, "cos", x, "64");
                input += &line("3", op, m, "theta", x, "64");
            }
        }
    }
    for prec in PRECS {
        input += &line("4", "\"psi\"", "4", "cos", "0.3", prec);
    }
    for extra in EXTRAS {
        input += &format!("{{\"op\":\"psi\",\"m\":2,\"cos\":0.25,{extra}}}\n");
    }
    input += "{\"op\":\"psi\",\"m\":4,\"cos\":0.3,\"round_to_odd\":true,\"prec\":64}\n";
    input += "{\"op\":\"cos_m\",\"m\":2,\"cos\":\"0x1.000001p-1\",\"round_to_odd\":true}\n";
    input += "{\"op\":\"dpsi_dtheta\",\"m\":\"2.5\",\"theta\":1,\"round_to_odd\":false}\n";
    input += "\r\n   \n\t\n{\"op\":\"psi\",\"m\":4,\"cos\":0.3}\r\n";
    input += "{\"op\":\"psi\",\"m\":4,\"cos\":0.3}   \t\r\n";
    input += "{\"op\":\"psi\",\"m\":4,\"cos\":0.3}}\n{\"op\":\"psi\"\n{\n}\n[]\n\"psi\"\n";
    assert!(same_bytes("one field at a time", &input) > 300);
}

#[test]
fn invalid_utf8_lines_go_through_either_path_alike() {
    let input: &[u8] = b"\xff{\"op\":\"psi\",\"m\":4,\"cos\":0.3}\n{\"op\":\"psi\",\"id\":\"\xc3\",\"m\":4,\"cos\":0.3}\n{\"op\":\"psi\",\"m\":4,\"cos\":0.3}";
    let run = |reader| {
        let mut out = Vec::new();
        let e = eval_stream_with(input, &mut out, reader).unwrap();
        (out, e)
    };
    let (fast, generic) = (run(Reader::Typed), run(Reader::Generic));
    assert_eq!(fast, generic);
    assert_eq!(fast.1, 2);
}

/// The mpmath cross-check's generated cases (scripts/crosscheck_eval.py, its default
/// set), when Python with mpmath is installed (CI installs it; a machine without it
/// skips this one set and says so).
#[test]
fn crosscheck_eval_cases() {
    let out = std::process::Command::new("python3")
        .args(["scripts/crosscheck_eval.py", "--write-cases", "-"])
        .output();
    let cases = match out {
        Ok(o) if o.status.success() => String::from_utf8(o.stdout).unwrap(),
        _ => {
            eprintln!("python3 with mpmath not available: crosscheck_eval cases skipped");
            return;
        }
    };
    assert!(cases.lines().count() > 1000);
    let n = same_bytes("crosscheck_eval", &cases);
    assert!(n > 500, "typed path took {n} lines");
}

#[test]
fn the_environment_switch_forces_the_generic_path() {
    let input = b"{\"id\":1E5,\"op\":\"psi\",\"m\":4,\"cos\":0.3,\"prec\":64}\n{\"op\":\"psi\",\"m\":4,\"cos\":7}\n";
    let run = |generic: Option<&str>| {
        let mut cmd = common::bin();
        cmd.arg("eval").env_remove(typed::GENERIC_ENV);
        if let Some(v) = generic {
            cmd.env(typed::GENERIC_ENV, v);
        }
        common::run_command_with_stdin(cmd, input)
    };
    let (plain, generic) = (run(None), run(Some("1")));
    assert_eq!(plain.stdout, generic.stdout);
    assert_eq!(plain.status.code(), Some(1));
    assert_eq!(generic.status.code(), Some(1));
    let text = String::from_utf8(plain.stdout).unwrap();
    assert!(
        text.starts_with("{\"id\":1e+5,\"op\":\"psi\",\"value\":"),
        "{text}"
    );
}
