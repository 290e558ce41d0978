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
//! The batches are the head suite's cosine batches
//! ([`crate::conformance::head_suite::cosine_batch`]: its module docs say which states
//! and cosines, and why); this module only writes them with the oracle's outputs. A batch
//! where the gradient is not defined (a slope `±∞` at `c = ±1`, MagFace at the clamp's
//! kinks `a = l_a`, `u_a`) is written with `"grad":false` and the loss alone.

use super::json::{approx_fields, approx_json};
use super::op::Op;
use super::vectors::{VECTOR_PREC, VectorsOptions, hex};
use crate::Error;
use crate::conformance::FloatFormat;
use crate::conformance::head_suite::{CosineLossBatch, CosineOptions, cosine_batch};
use crate::head::family::Head;
use crate::head::{Kind, Semantics};
use crate::names::Name;
use rug::{Integer, Rational};
use serde_json::{Map, Value, json};

pub use crate::conformance::head_suite::takes_cosines;

/// The version of the cosine loss lines.
pub const COS_VECTORS_VERSION: u32 = 4;

/// `v` as an exact decimal string when its denominator is `2^a·5^b` (every parameter
/// of [`crate::conformance::head_suite::head_states`]), else `None`.
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

/// A per-sample state of every row (AdaFace's norm, MagFace's magnitude: values of `T`),
/// as hex floats of `T`; `null` for a row without it.
fn per_sample<T: FloatFormat>(heads: &[Head], state: impl Fn(&Head) -> Option<&Rational>) -> Value {
    let v = heads
        .iter()
        .map(|h| state(h).map_or(Value::Null, |x| json!(hex(T::from_f64(x.to_f64())))));
    Value::Array(v.collect())
}

/// The head's fields of a line (after `"head"`), from the batch's heads and parameters.
fn head_fields<T: FloatFormat>(b: &CosineLossBatch<T>) -> Result<Map<String, Value>, Error> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    let scale = json!(hex(b.scale));
    let exact = |t: T| Rational::from_f64(t.to_f64()).expect("finite");
    match (&b.heads[0], &b.sphereface2) {
        (Head::SphereFace { m: mm }, _) => {
            put("m", param(mm)?);
            put("scale", scale);
        }
        (Head::SphereFaceR { m: mm, version }, _) => {
            put("m", param(mm)?);
            put("version", json!(version.name()));
            put("scale", scale);
        }
        (Head::SphereFace2 { t, m: mm, margin }, Some(p)) => {
            put("margin", json!(margin.name()));
            put("t", json!(t));
            put("m", param(mm)?);
            put("r", param(&p.r)?);
            put("b", param(&p.b)?);
            put("alpha", param(&p.alpha)?);
            put("lw", param(&p.lw)?);
        }
        (Head::CurricularFace { m: mm, t }, _) => {
            put("m", param(mm)?);
            put("t", param(t)?);
            put("scale", scale);
        }
        (Head::AdaFace(a), _) => {
            put("m", param(&a.m)?);
            put("h", param(&a.h)?);
            put("eps", param(&a.eps)?);
            put(
                "norm",
                per_sample::<T>(&b.heads, |h| match h {
                    Head::AdaFace(a) => Some(&a.norm),
                    _ => None,
                }),
            );
            put("mean", param(&a.mean)?);
            put("std", param(&a.std)?);
            put("scale", scale);
        }
        (Head::MagFace(mf), _) => {
            put("l_a", param(&mf.l_a)?);
            put("u_a", param(&mf.u_a)?);
            put("l_m", param(&mf.l_m)?);
            put("u_m", param(&mf.u_m)?);
            put(
                "a",
                per_sample::<T>(&b.heads, |h| match h {
                    Head::MagFace(mf) => Some(&mf.a),
                    _ => None,
                }),
            );
            put("fallback", json!(mf.fallback.name()));
            put("lambda_g", param(&exact(b.lambda_g))?);
            put("scale", scale);
        }
        (Head::Combined(_), _) => {
            return Err(Error::Shape {
                what: "the combined heads take x/w batches (vectors_version 3)".into(),
            });
        }
        (Head::SphereFace2 { .. }, None) => {
            return Err(Error::Shape {
                what: "a SphereFace2 batch without its parameters".into(),
            });
        }
    }
    Ok(m)
}

/// The version 4 lines of `kind` (module docs), in order.
pub(super) fn cos_loss_lines<T: FloatFormat>(
    o: &VectorsOptions,
    kind: Kind,
) -> Result<Vec<String>, Error> {
    let options = CosineOptions {
        count: o.count,
        n: o.batch,
        classes: o.classes,
        seed: o.seed,
        scale: o.scale,
        semantics: o.cos_head.map_or(Semantics::Analytic, |h| h.1),
    };
    let batches: Vec<usize> = (0..o.count).collect();
    crate::arith::par::map(batches, |i| -> Result<String, Error> {
        let b = cosine_batch::<T>(kind, &options, i)?;
        let fields = head_fields::<T>(&b)?;
        let ((value, grad_cos, grad_a), grad) = b.input().oracle_or_value(VECTOR_PREC)?;
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
        line.insert("semantics".into(), json!(b.semantics.name()));
        line.insert("scheme".into(), json!(o.scheme.name()));
        line.insert("grad".into(), json!(grad));
        let rows = b
            .cos
            .iter()
            .map(|r| Value::Array(r.iter().map(|&t| json!(hex(t))).collect()));
        line.insert("cos".into(), Value::Array(rows.collect()));
        line.insert("y".into(), json!(b.y));
        line.insert("prec".into(), json!(VECTOR_PREC));
        line.insert("origin".into(), json!(b.origin));
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
