//! Helpers shared by the property tests: adversarial points near branch points,
//! thresholds and roots, built from high-precision references.
#![allow(dead_code)]

use asoftmax_spec::arith::{Ival, parse_exact, rational_from_f64, round_f64};
use proptest::prelude::*;
use rug::float::Constant;
use rug::{Float, Integer, Rational};

/// Precision of the reference points that adversarial inputs are built around.
pub const REF_PREC: u32 = 640;

/// `π·num/den` to 640 bits (relative error ≤ 2^−639).
pub fn pi_times(num: u32, den: u32) -> Float {
    Float::with_val(REF_PREC, Constant::Pi) * num / den
}

/// `x` moved by `n` steps through the ordered set of f64 values.
pub fn f64_step(x: f64, n: i32) -> f64 {
    let key = |v: f64| {
        let b = v.to_bits() as i64;
        if b < 0 { -(b & i64::MAX) } else { b }
    };
    let k = key(x) + i64::from(n);
    if k < 0 {
        f64::from_bits(((-k) as u64) | (1 << 63))
    } else {
        f64::from_bits(k as u64)
    }
}

/// How far from a reference point an adversarial input is placed.
#[derive(Clone, Debug)]
pub enum Nudge {
    /// The point itself (its 640-bit rounding, or exact when rational).
    At,
    /// `±1e−30`.
    Tiny(bool),
    /// `±2^−e`.
    Pow2(u32, bool),
    /// The f64 nearest to the point, moved by this many f64 steps.
    Ulps(i32),
}

pub fn nudge_strategy() -> impl Strategy<Value = Nudge> {
    prop_oneof![
        Just(Nudge::At),
        any::<bool>().prop_map(Nudge::Tiny),
        (40u32..=200, any::<bool>()).prop_map(|(e, up)| Nudge::Pow2(e, up)),
        (-4i32..=4).prop_map(Nudge::Ulps),
    ]
}

/// `p` moved by `n`, kept inside `[lo, hi]` by flipping the direction of the move.
pub fn apply_nudge(p: &Rational, n: &Nudge, lo: &Rational, hi: &Rational) -> Rational {
    let inside = |r: &Rational| *r >= *lo && *r <= *hi;
    let delta = |up: bool, d: Rational| {
        let plus = Rational::from(p + &d);
        let minus = Rational::from(p - &d);
        let (first, second) = if up { (plus, minus) } else { (minus, plus) };
        if inside(&first) { first } else { second }
    };
    match n {
        Nudge::At => p.clone(),
        Nudge::Tiny(up) => delta(*up, parse_exact("1e-30").unwrap()),
        Nudge::Pow2(e, up) => delta(*up, Rational::from((1, Integer::from(1) << *e))),
        Nudge::Ulps(k) => {
            let x = round_f64(&Float::with_val(REF_PREC, p));
            let r = rational_from_f64(f64_step(x, *k)).unwrap();
            if inside(&r) {
                r
            } else {
                rational_from_f64(f64_step(x, -*k)).unwrap()
            }
        }
    }
}

pub fn overlaps(a: &Ival, b: &Ival) -> bool {
    !(a.hi() < b.lo() || b.hi() < a.lo())
}

/// The tool's binary, ready for arguments.
#[cfg(feature = "cli")]
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_asoftmax-spec"))
}

/// The standard output of `asoftmax-spec vectors ARGS`, which must succeed.
#[cfg(feature = "cli")]
pub fn vectors(args: &[&str]) -> String {
    let out = bin().arg("vectors").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes `text` to the file `name` in this test process's directory `prefix-PID` under
/// the system's temporary directory, and returns its path.
pub fn tmp(prefix: &str, name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `asoftmax-spec ARGS` with `input` on its standard input and returns its output.
#[cfg(feature = "cli")]
pub fn run_with_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut cmd = bin();
    cmd.args(args);
    run_command_with_stdin(cmd, input)
}

/// Runs `cmd` with `input` on its standard input and returns its output.
#[cfg(feature = "cli")]
pub fn run_command_with_stdin(
    mut cmd: std::process::Command,
    input: &[u8],
) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}
