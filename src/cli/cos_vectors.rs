//! `vectors --op loss --head K` for the heads that take cosines (`Kind::LOSS` outside
//! `Kind::FEATURES`): version 4 lines ([`COS_VECTORS_VERSION`]), each an `eval` loss line
//! on cosines ([`super::family`]) with the oracle's outputs.
//!
//! A line: `id` (`loss/<dtype>/<head>/<i>`), `vectors_version` 4, `op`, `dtype`, `head`
//! and its parameters (exact decimal strings; the per-sample `norm` and `a` as hex floats
//! of the dtype), `scale` (not for SphereFace2, whose scale is `r`), `semantics`,
//! `scheme`, `grad`, `cos` (`N × C` hex floats of the dtype), `y`, `prec`, `origin`, the
//! loss fields and, with `"grad":true`, `grad_cos` (and MagFace's `grad_a`).
//!
//! The states are the head suite's ([`head_states`]): batch `i` takes state `i` (round
//! robin); AdaFace and MagFace, whose state is per sample, spread their norms and
//! magnitudes over the rows (MagFace: the states of one fallback per batch, alternating;
//! every other pair of batches with the kinks `a = l_a`, `u_a` moved to their neighbours
//! in the dtype, where the gradient exists).
//! The cosines are the head suite's inputs of the row's head ([`head_cases`]: `c = ±1`,
//! `0`, `±½`, the fallback boundary, SphereFace's branch thresholds, AdaFace's angle
//! clamp, CurricularFace's hard-example boundary `cos(θ_y + m)`, sweeps, random points),
//! taken in order: an even row's target is a case's `c`, an odd row's target the case's
//! `c_y` with its `c` the first non-target (so CurricularFace's boundary sits next to its
//! own target); the other cells take the next cases' `c`. A cell within
//! [`HeadPolicy::jump_ulps`] ulps of 1 of a jump whose place is irrational (the linear
//! fallback's `cos(π − m)`, CurricularFace's `cos(θ_y + m)`) is moved just outside that
//! band (`off_jumps`). A batch where the gradient is
//! not defined (a slope `±∞` at `c = ±1`, MagFace at the clamp's kinks `a = l_a`, `u_a`)
//! is written with `"grad":false` and the loss alone.

use super::family::FamilyInput;
use super::json::{approx_fields, approx_json};
use super::op::Op;
use super::vectors::{VECTOR_PREC, VectorsOptions, hex};
use crate::Error;
use crate::conformance::FloatFormat;
use crate::conformance::GenConfig;
use crate::conformance::head_suite::{HeadOp, HeadPolicy, head_cases, head_states, jumps};
use crate::head::family::Head;
use crate::head::sphereface2::Params;
use crate::head::{Fallback, Kind, Semantics};
use crate::loss::family::FamilySpec;
use crate::names::Name;
use rug::{Integer, Rational};
use serde_json::{Map, Value, json};

/// The version of the cosine loss lines.
pub const COS_VECTORS_VERSION: u32 = 4;

/// SphereFace2's bias on the lines: a dyadic state (opensphere learns `b`; its
/// initial value depends on `C` and is irrational).
const S2_BIAS: i64 = -8;

/// `v` as an exact decimal string when its denominator is `2^a·5^b` (every parameter
/// of [`head_states`]), else `None`.
fn decimal(v: &Rational) -> Option<String> {
    let mut scaled = v.clone();
    for digits in 0..64u32 {
        if *scaled.denom() == 1 {
            let int: Integer = scaled.numer().clone();
            let (neg, mag) = (int < 0, Integer::from(int.abs_ref()).to_string());
            let d = digits as usize;
            let padded = format!("{mag:0>width$}", width = d + 1);
            let (a, b) = padded.split_at(padded.len() - d);
            let sign = if neg { "-" } else { "" };
            return Some(if d == 0 {
                format!("{sign}{a}")
            } else {
                format!("{sign}{a}.{b}")
            });
        }
        scaled *= 10u32;
    }
    None
}

/// A parameter as an exact decimal string (an error for a non-decimal rational).
fn param(v: &Rational) -> Result<Value, Error> {
    decimal(v).map(Value::from).ok_or_else(|| Error::Shape {
        what: format!("parameter {v} has no exact decimal"),
    })
}

/// The nearest `T` of `v` as an exact rational.
fn in_format<T: FloatFormat>(v: &Rational) -> Rational {
    let t = T::from_f64(crate::arith::ziv::round_rational(v, T::FORMAT));
    Rational::from_f64(t.to_f64()).expect("finite")
}

/// The heads of batch `i` (one per row, `n` rows) of `kind`, per-sample states rounded to `T`.
fn batch_heads<T: FloatFormat>(kind: Kind, i: usize, n: usize) -> Vec<Head> {
    let states = head_states(kind);
    let pick = |group: &[Head], r: usize| group[(i + r) % group.len()].clone();
    match kind {
        Kind::AdaFace => (0..n)
            .map(|r| match pick(&states, r) {
                Head::AdaFace(mut a) => {
                    a.norm = in_format::<T>(&a.norm);
                    Head::AdaFace(a)
                }
                h => h,
            })
            .collect(),
        Kind::MagFace => {
            let fallback = [Fallback::Easy, Fallback::Linear][i % 2];
            let group: Vec<Head> = states
                .into_iter()
                .filter(|h| matches!(h, Head::MagFace(m) if m.fallback == fallback))
                .collect();
            // Every other pair of batches moves the magnitudes at the clamp's kinks
            // (`a = l_a`, `u_a`: no gradient) to their neighbours in the format, alternately
            // above and below: gradients on both sides of each kink.
            let off_kink = (i / 2) % 2 == 1;
            (0..n)
                .map(|r| match pick(&group, r) {
                    Head::MagFace(mut mf) if off_kink && (mf.a == mf.l_a || mf.a == mf.u_a) => {
                        let (fmt, a) = (T::FORMAT, mf.a.to_f64());
                        let moved = if r % 2 == 0 {
                            fmt.next_up(a)
                        } else {
                            -fmt.next_up(-a)
                        };
                        mf.a = Rational::from_f64(moved).expect("finite");
                        Head::MagFace(mf)
                    }
                    h => h,
                })
                .collect()
        }
        _ => vec![states[i % states.len()].clone(); n],
    }
}

/// The head's fields of a line (after `"head"`), from the rows' heads.
fn head_fields<T: FloatFormat>(
    heads: &[Head],
    o: &VectorsOptions,
) -> Result<Map<String, Value>, Error> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    let scale = json!(hex(T::from_f64(o.scale)));
    match &heads[0] {
        Head::SphereFace { m: mm } => {
            put("m", param(mm)?);
            put("scale", scale);
        }
        Head::SphereFaceR { m: mm, version } => {
            put("m", param(mm)?);
            put("version", json!(version.name()));
            put("scale", scale);
        }
        Head::SphereFace2 { t, m: mm, margin } => {
            put("margin", json!(margin.name()));
            put("t", json!(t));
            put("m", param(mm)?);
            put("r", json!("40"));
            put("b", json!(S2_BIAS.to_string()));
            put("alpha", json!("0.7"));
            put("lw", json!("50"));
        }
        Head::CurricularFace { m: mm, t } => {
            put("m", param(mm)?);
            put("t", param(t)?);
            put("scale", scale);
        }
        Head::AdaFace(a) => {
            put("m", param(&a.m)?);
            put("h", param(&a.h)?);
            put("eps", param(&a.eps)?);
            let norms = heads.iter().map(|h| match h {
                Head::AdaFace(a) => json!(hex(T::from_f64(a.norm.to_f64()))),
                _ => Value::Null,
            });
            put("norm", Value::Array(norms.collect()));
            put("mean", param(&a.mean)?);
            put("std", param(&a.std)?);
            put("scale", scale);
        }
        Head::MagFace(mf) => {
            put("l_a", param(&mf.l_a)?);
            put("u_a", param(&mf.u_a)?);
            put("l_m", param(&mf.l_m)?);
            put("u_m", param(&mf.u_m)?);
            let mags = heads.iter().map(|h| match h {
                Head::MagFace(mf) => json!(hex(T::from_f64(mf.a.to_f64()))),
                _ => Value::Null,
            });
            put("a", Value::Array(mags.collect()));
            put("fallback", json!(mf.fallback.name()));
            put("lambda_g", json!("35"));
            put("scale", scale);
        }
        Head::Combined(_) => {
            return Err(Error::Shape {
                what: "the combined heads take x/w batches (vectors_version 3)".into(),
            });
        }
    }
    Ok(m)
}

/// The cosines and labels of batch `i`: rows of the head suite's cases ([`head_cases`]).
fn batch_cosines<T: FloatFormat>(
    heads: &[Head],
    o: &VectorsOptions,
    i: usize,
) -> (Vec<Vec<T>>, Vec<usize>) {
    let cfg = GenConfig {
        neighbours: 2,
        sweep: 8,
        random: 8,
        seed: o.seed,
    };
    let c = o.classes;
    let mut cos = Vec::with_capacity(heads.len());
    let mut y = Vec::with_capacity(heads.len());
    for (r, h) in heads.iter().enumerate() {
        let cases = head_cases::<T>(h, &cfg);
        let at = |k: usize| &cases[k % cases.len()];
        let first = (i * heads.len() + r) * c;
        let label = (i + r) % c;
        let mut row: Vec<T> = (0..c).map(|j| at(first + j).c).collect();
        if r % 2 == 1 && c > 1 {
            let case = at(first);
            let other = (label + 1) % c;
            row[other] = case.c;
            row[label] = case.c_y;
        } else {
            row.swap(0, label);
        }
        row[label] = off_jumps(h, row[label], row[label], true);
        let c_y = row[label];
        for (j, cell) in row.iter_mut().enumerate() {
            if j != label {
                *cell = off_jumps(h, *cell, c_y, false);
            }
        }
        cos.push(row);
        y.push(label);
    }
    (cos, y)
}

/// `c` moved out of the band of [`HeadPolicy::jump_ulps`] ulps of 1 (absolute: a
/// threshold such as CurricularFace's `c_y·cos m − sin θ_y·sin m` is a difference of terms
/// up to 1, whose rounding error is an absolute one) around each jump of the head's logit
/// (target or not) whose place is irrational ([`jumps`]): to one ulp of 1 beyond the band,
/// on its side. In the band a float implementation's rounded threshold may pick either
/// side of the definition, which a whole-batch loss cannot accept both of; just outside it
/// is the hardest place where the side is decided.
fn off_jumps<T: FloatFormat>(head: &Head, c: T, c_y: T, target: bool) -> T {
    let op = if target {
        HeadOp::Target
    } else {
        HeadOp::NonTarget
    };
    let ulp1 = T::FORMAT.next_up(1.0) - 1.0;
    let band = f64::from(HeadPolicy::default().jump_ulps) * ulp1;
    let mut v = c.to_f64();
    for jump in jumps(head, op) {
        let Some(at) = jump.at(head, c_y).map(|a| a.to_f64()) else {
            continue;
        };
        if (v - at).abs() <= band {
            let side = if v >= at { 1.0 } else { -1.0 };
            v = T::from_f64(at + side * (band + ulp1))
                .to_f64()
                .clamp(-1.0, 1.0);
        }
    }
    T::from_f64(v)
}

/// The version 4 lines of `kind` (module docs), in order.
pub(super) fn cos_loss_lines<T: FloatFormat>(
    o: &VectorsOptions,
    kind: Kind,
) -> Result<Vec<String>, Error> {
    let semantics = o.cos_head.map_or(Semantics::Analytic, |h| h.1);
    let batches: Vec<usize> = (0..o.count).collect();
    crate::arith::par::map(batches, |i| -> Result<String, Error> {
        let heads = batch_heads::<T>(kind, i, o.batch);
        let (cos, y) = batch_cosines::<T>(&heads, o, i);
        let fields = head_fields::<T>(&heads, o)?;
        let exact: Vec<Vec<Rational>> = cos
            .iter()
            .map(|r| {
                r.iter()
                    .map(|t| Rational::from_f64(t.to_f64()).expect("finite"))
                    .collect()
            })
            .collect();
        let input = match kind {
            Kind::SphereFace2 => {
                let Head::SphereFace2 { t, m, margin } = &heads[0] else {
                    unreachable!("head_states(SphereFace2) are SphereFace2 heads")
                };
                FamilyInput::SphereFace2 {
                    p: Params {
                        t: *t,
                        m: m.clone(),
                        r: Rational::from(40),
                        b: Rational::from(S2_BIAS),
                        alpha: Rational::from((7, 10)),
                        lw: Rational::from(50),
                    },
                    margin: *margin,
                    cos: exact,
                    y: y.clone(),
                    semantics,
                }
            }
            _ => FamilyInput::Softmax(FamilySpec {
                cos: exact,
                y: y.clone(),
                heads: heads.clone(),
                scale: Rational::from_f64(T::from_f64(o.scale).to_f64()).expect("finite"),
                semantics,
                lambda_g: Rational::from(if kind == Kind::MagFace { 35 } else { 0 }),
            }),
        };
        let (out, grad) = match input.oracle(true, VECTOR_PREC) {
            Err(Error::Degenerate { .. }) => (input.oracle(false, VECTOR_PREC)?, false),
            r => (r?, true),
        };
        let mut line = Map::new();
        line.insert(
            "id".into(),
            json!(format!(
                "{}/{}/{}/{i:05}",
                Op::Loss.name(),
                o.dtype.name(),
                kind.name()
            )),
        );
        line.insert("vectors_version".into(), json!(COS_VECTORS_VERSION));
        line.insert("op".into(), json!(Op::Loss.name()));
        line.insert("dtype".into(), json!(o.dtype.name()));
        line.insert("head".into(), json!(kind.name()));
        line.extend(fields);
        line.insert("semantics".into(), json!(semantics.name()));
        line.insert("scheme".into(), json!(o.scheme.name()));
        line.insert("grad".into(), json!(grad));
        let rows = cos
            .iter()
            .map(|r| Value::Array(r.iter().map(|&t| json!(hex(t))).collect()));
        line.insert("cos".into(), Value::Array(rows.collect()));
        line.insert("y".into(), json!(y));
        line.insert("prec".into(), json!(VECTOR_PREC));
        line.insert(
            "origin".into(),
            json!(format!(
                "head suite states and cases, batch {i}, N={} C={}",
                o.batch, o.classes
            )),
        );
        let (value, grad_cos, grad_a) = out;
        line.extend(approx_fields(&value, o.round_to_odd));
        if let Some(g) = grad_cos {
            let m = g
                .iter()
                .map(|r| Value::Array(r.iter().map(|a| approx_json(a, o.round_to_odd)).collect()));
            line.insert("grad_cos".into(), Value::Array(m.collect()));
        }
        if let Some(ga) = grad_a {
            let v = ga.iter().map(|a| approx_json(a, o.round_to_odd)).collect();
            line.insert("grad_a".into(), Value::Array(v));
        }
        Ok(Value::Object(line).to_string())
    })
    .into_iter()
    .collect()
}

/// Whether `kind` is generated by this module (a head on cosines).
pub fn takes_cosines(kind: Kind) -> bool {
    Kind::LOSS.contains(&kind) && !Kind::FEATURES.contains(&kind)
}
