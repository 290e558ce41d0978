//! `asoftmax-spec vectors`: golden test vectors as JSON Lines.
//!
//! Each line is an `eval` input whose numbers are exactly representable in the
//! chosen format and written as hex-float strings, together with the oracle's
//! output fields (`value`, `f64`, `f32`, `f16`, `bf16`, optionally `f64_odd`, and
//! `grad_x`/`grad_w` for loss vectors), a unique `id`, the format version
//! [`VECTORS_VERSION`], the `dtype` and, for loss vectors, the precision `scheme`. The
//! inputs come from the same generators as the Rust suite: edge cases first,
//! then sweeps, then seeded random points. Same options, same bytes.
//!
//! Version 2 added the `f16`, `bf16`, `f64_odd` and `scheme` fields and the dtypes
//! `f16` and `bf16`; a version 1 file is still read by `check` (native scheme).
//! Version 3 added loss lines with a head (`"head"`, its parameters and `"semantics"`,
//! as `eval` reads them, in place of `variant`, `m` and `backward`): those lines are
//! written as version 3, every other line still as version 2 ([`BASE_VECTORS_VERSION`]),
//! byte for byte as before. A head batch where the head's slope is not finite at a target
//! (a feature exactly parallel to its class row after rounding to the dtype, for a head
//! with `m2 ≠ 0`) has no gradient: it is left out, and its id skipped.
//! Version 4 added loss lines on cosines for the heads outside `Kind::FEATURES`
//! (`sphereface`, `sphereface_r`, `sphereface2`, `curricularface`, `adaface`, `magface`):
//! `"head"`, its parameters and state, `"cos"` (`N × C`), `"y"`, the loss fields,
//! `"grad_cos"` and MagFace's `"grad_a"`, as `eval` reads and writes them
//! ([`super::cos_vectors`]); those lines are written as version 4, the x/w head lines
//! still as version 3 ([`HEAD_VECTORS_VERSION`]) and the others as version 2, byte for
//! byte as before.

use super::cos_vectors::cos_loss_lines;
pub use super::cos_vectors::takes_cosines;
use super::eval::head_of;
use super::json::{Fields, approx_fields, approx_json};
use super::op::Op;
use crate::arith::{Approx, Bf16, F16, Format, par};
use crate::conformance::generators::{Rng, scalar_inputs};
use crate::conformance::loss_suite::{
    BatchCase, BatchParams, FeatureKind, Scheme, random_batch, spec_of,
};
use crate::conformance::{FloatFormat, GenConfig, ScalarOp};
use crate::head::Kind;
use crate::loss::{Backward, Head, Variant};
use crate::loss_filter::Tier;
use crate::names::Name;
use crate::{Angle, Error, multiangle, psi};
use rug::Rational;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::ops::RangeInclusive;

/// The newest version of the vectors format, written on loss lines on cosines
/// ([`super::cos_vectors`]); `check` reads it and every earlier one.
pub const VECTORS_VERSION: u32 = super::cos_vectors::COS_VECTORS_VERSION;

/// The version written on loss lines with a head on features `x`/`w` (unchanged since
/// version 3).
pub const HEAD_VECTORS_VERSION: u32 = 3;

/// The version written on every line without a head (unchanged since version 2).
pub const BASE_VECTORS_VERSION: u32 = 2;

/// Bits of `value` in generated vectors (40 significant digits).
pub const VECTOR_PREC: u32 = 128;

/// What to generate.
#[derive(Clone, Debug)]
pub struct VectorsOptions {
    /// Ops among [`Op::VECTORS`] (`cos_m`, `psi`, `dpsi_dcos`, `loss`).
    pub ops: Vec<Op>,
    /// The format the inputs are representable in.
    pub dtype: Format,
    /// Margins.
    pub ms: RangeInclusive<u32>,
    /// Vectors per (op, m) for the scalar ops; batches per m for `loss`.
    pub count: usize,
    /// Seed of the random inputs.
    pub seed: u64,
    /// Loss: classes C.
    pub classes: usize,
    /// Loss: feature dimension d.
    pub dim: usize,
    /// Loss: batch size N.
    pub batch: usize,
    /// Loss: λ.
    pub lambda: f64,
    /// Loss: s.
    pub scale: f64,
    /// Loss: variant.
    pub variant: Variant,
    /// Loss: backward semantics.
    pub backward: Backward,
    /// Loss: the precision scheme of the implementation under test.
    pub scheme: Scheme,
    /// Also write `f64_odd` (the binary64 round-to-odd) with every value.
    pub round_to_odd: bool,
    /// Loss tensor files: the filter or the exact oracle on every output.
    pub tier: Tier,
    /// Loss: a head of the margin family in place of `variant`, `m` and `backward`.
    pub head: Option<HeadOption>,
    /// Loss: a head that takes cosines (outside `Kind::FEATURES`) with the semantics of
    /// its backward: cosine batches at its published states and bounds, version 4 lines
    /// ([`super::cos_vectors`]).
    pub cos_head: Option<(Kind, crate::head::Semantics)>,
}

/// A head for the loss vectors: its fields as written on each line (`"head"`, its
/// parameters as exact strings, `"semantics"`: what `eval` reads) and the head they give.
#[derive(Clone, Debug)]
pub struct HeadOption {
    /// The head's JSON fields, in the order written.
    pub fields: Map<String, Value>,
    /// Its name.
    pub kind: Kind,
    /// The head.
    pub head: Head,
}

impl HeadOption {
    /// Reads `fields` as `eval` reads a loss line's head (every field must be one of it).
    pub fn parse(fields: Map<String, Value>) -> Result<HeadOption, String> {
        let mut f = Fields::new(&fields);
        let head = head_of(&mut f)?.ok_or("missing field \"head\"")?;
        f.finish()?;
        head.margin.validate().map_err(|e| e.to_string())?;
        let kind = Kind::parse(fields.get("head").and_then(Value::as_str).unwrap_or(""))?;
        Ok(HeadOption { fields, kind, head })
    }
}

pub(crate) fn hex<T: FloatFormat>(v: T) -> String {
    crate::arith::hex(v.to_f64(), T::FORMAT)
}

fn header(id: String, op: Op, dtype: Format) -> Map<String, Value> {
    header_v(id, op, dtype, BASE_VECTORS_VERSION)
}

fn header_v(id: String, op: Op, dtype: Format, version: u32) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("vectors_version".into(), json!(version));
    m.insert("op".into(), json!(op.name()));
    m.insert("dtype".into(), json!(dtype.name()));
    m
}

fn scalar_lines<T: FloatFormat>(
    o: &VectorsOptions,
    op: ScalarOp,
    m: u32,
    out: &mut dyn Write,
) -> Result<usize, Box<dyn std::error::Error>> {
    let cfg = GenConfig {
        seed: o.seed,
        ..GenConfig::default()
    };
    let cases: Vec<_> = scalar_inputs::<T>(m, &cfg)
        .into_iter()
        .take(o.count)
        .enumerate()
        .collect();
    // The oracle calls in parallel, the lines written in order.
    write_lines(
        out,
        par::map(cases, |(i, case)| {
            let c = crate::arith::rational_from_f64(case.c.to_f64())?;
            let at = Angle::Cos(c);
            let r: Result<Approx, Error> = match op {
                ScalarOp::CosM => multiangle::cos_m(m, &at, VECTOR_PREC),
                ScalarOp::Psi => psi::psi(&Rational::from(m), &at, VECTOR_PREC),
                ScalarOp::DpsiDcos => psi::dpsi_dcos(m, &at, VECTOR_PREC),
            };
            let mut line = header(
                format!("{}/{}/m={m}/{i:05}", Op::from(op).name(), o.dtype.name()),
                Op::from(op),
                o.dtype,
            );
            line.insert("m".into(), json!(m));
            line.insert("cos".into(), json!(hex(case.c)));
            line.insert("prec".into(), json!(VECTOR_PREC));
            line.insert("origin".into(), json!(case.origin));
            line.extend(approx_fields(&r?, o.round_to_odd));
            Ok(Value::Object(line).to_string())
        }),
    )
}

/// Writes the lines up to the first error, which it returns; the number written.
fn write_lines(
    out: &mut dyn Write,
    lines: Vec<Result<String, Error>>,
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut written = 0;
    for line in lines {
        writeln!(out, "{}", line?)?;
        written += 1;
    }
    Ok(written)
}

/// The loss batches of margin `m`, drawn in order from the one seeded generator: the
/// same batches for the JSON Lines route and the tensor route (`super::tensors`).
pub(crate) fn loss_cases<T: FloatFormat>(o: &VectorsOptions, m: u32) -> Vec<(usize, BatchCase<T>)> {
    let mut rng = Rng::new(o.seed ^ (u64::from(m) << 32));
    (0..o.count)
        .map(|i| {
            let kind = if i % 3 == 2 {
                FeatureKind::NearlyParallel
            } else {
                FeatureKind::Random
            };
            let p = BatchParams {
                n: o.batch,
                classes: o.classes,
                dim: o.dim,
                m,
                lambda: o.lambda,
                scale: o.scale,
                variant: o.variant,
                backward: o.backward,
                kind,
                xnorm: 1.0,
            };
            let mut case = random_batch::<T>(&mut rng, &p);
            if let Some(h) = &o.head {
                case.batch.m = 1;
                case.batch.head = Some(h.head.clone());
                case.origin = format!(
                    "{:?} N={} C={} d={} λ={} s={} head={}",
                    kind,
                    o.batch,
                    o.classes,
                    o.dim,
                    o.lambda,
                    o.scale,
                    Value::Object(h.fields.clone())
                );
            }
            (i, case)
        })
        .collect()
}

/// The id of loss case `i` of margin `m` (of the head, with one).
pub(crate) fn loss_id(o: &VectorsOptions, m: u32, i: usize) -> String {
    match &o.head {
        Some(h) => format!(
            "{}/{}/{}/{i:05}",
            Op::Loss.name(),
            o.dtype.name(),
            h.kind.name()
        ),
        None => format!("{}/{}/m={m}/{i:05}", Op::Loss.name(), o.dtype.name()),
    }
}

fn loss_lines<T: FloatFormat>(
    o: &VectorsOptions,
    m: u32,
    out: &mut dyn Write,
) -> Result<usize, Box<dyn std::error::Error>> {
    let cases = loss_cases::<T>(o, m);
    // The oracle runs on the batches in parallel; the lines are written in order.
    let lines = par::map(cases, |(i, case)| -> Result<Option<String>, Error> {
        let b = &case.batch;
        let res = match crate::loss::loss(&spec_of(b)?, true, VECTOR_PREC) {
            // A head whose slope is not finite at a target (x exactly parallel to its
            // class row after rounding to the dtype): no gradient, no vector.
            Err(Error::Degenerate { .. }) if o.head.is_some() => return Ok(None),
            r => r?,
        };
        let rows = |v: &[T], k: usize| -> Value {
            Value::Array(
                (0..k)
                    .map(|r| {
                        Value::Array(
                            v[r * b.dim..(r + 1) * b.dim]
                                .iter()
                                .map(|&t| json!(hex(t)))
                                .collect(),
                        )
                    })
                    .collect(),
            )
        };
        let id = loss_id(o, m, i);
        let mut line = match &o.head {
            Some(h) => {
                let mut line = header_v(id, Op::Loss, o.dtype, HEAD_VECTORS_VERSION);
                line.extend(h.fields.clone());
                line
            }
            None => {
                let mut line = header(id, Op::Loss, o.dtype);
                line.insert("variant".into(), json!(b.variant.name()));
                line.insert("m".into(), json!(m));
                line
            }
        };
        line.insert("lambda".into(), json!(hex(b.lambda)));
        line.insert("scale".into(), json!(hex(b.scale)));
        if o.head.is_none() {
            line.insert("backward".into(), json!(b.backward.name()));
        }
        line.insert("scheme".into(), json!(o.scheme.name()));
        line.insert("grad".into(), json!(true));
        line.insert("x".into(), rows(&b.x, b.n));
        line.insert("w".into(), rows(&b.w, b.classes));
        line.insert("y".into(), json!(b.y));
        line.insert("prec".into(), json!(VECTOR_PREC));
        line.insert("origin".into(), json!(case.origin));
        line.extend(approx_fields(&res.loss, o.round_to_odd));
        let matrix = |g: Option<Vec<Vec<Approx>>>| {
            Value::Array(
                g.unwrap_or_default()
                    .iter()
                    .map(|r| {
                        let cells = r.iter().map(|a| approx_json(a, o.round_to_odd));
                        Value::Array(cells.collect())
                    })
                    .collect(),
            )
        };
        line.insert("grad_x".into(), matrix(res.grad_x));
        line.insert("grad_w".into(), matrix(res.grad_w));
        Ok(Some(Value::Object(line).to_string()))
    });
    write_lines(
        out,
        lines.into_iter().filter_map(Result::transpose).collect(),
    )
}

/// Writes the vectors; `progress(done, total)` is called after each (op, m) group.
/// Returns the number of lines written.
pub fn generate(
    o: &VectorsOptions,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<usize, Box<dyn std::error::Error>> {
    for op in &o.ops {
        op.vectors_op()?;
    }
    if o.ops.contains(&Op::Loss) {
        o.scheme.check_dtype(o.dtype)?;
    }
    let groups: Vec<(Op, u32)> = o
        .ops
        .iter()
        .flat_map(|&op| o.ms.clone().map(move |m| (op, m)))
        .collect();
    if o.round_to_odd {
        let write = || write_groups(o, &groups, out, progress);
        return crate::arith::ziv::requiring_round_to_odd(write);
    }
    write_groups(o, &groups, out, progress)
}

/// Writes the vectors of every (op, m) group (see [`generate`]).
fn write_groups(
    o: &VectorsOptions,
    groups: &[(Op, u32)],
    out: &mut dyn Write,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut written = 0;
    for (done, &(op, m)) in groups.iter().enumerate() {
        if m == 0 && op != Op::CosM {
            continue;
        }
        // A head has its own margins: one group of loss batches.
        if op == Op::Loss && (o.head.is_some() || o.cos_head.is_some()) && m != *o.ms.start() {
            continue;
        }
        if let (Op::Loss, Some((kind, _))) = (op, o.cos_head) {
            let lines = match o.dtype {
                Format::F32 => cos_loss_lines::<f32>(o, kind),
                Format::F64 => cos_loss_lines::<f64>(o, kind),
                Format::F16 => cos_loss_lines::<F16>(o, kind),
                Format::Bf16 => cos_loss_lines::<Bf16>(o, kind),
            };
            written += write_lines(
                out,
                lines.map_or_else(|e| vec![Err(e)], |v| v.into_iter().map(Ok).collect()),
            )?;
            progress(done + 1, groups.len());
            continue;
        }
        written += match (op.scalar(), o.dtype) {
            (Some(s), Format::F32) => scalar_lines::<f32>(o, s, m, out)?,
            (Some(s), Format::F64) => scalar_lines::<f64>(o, s, m, out)?,
            (Some(s), Format::F16) => scalar_lines::<F16>(o, s, m, out)?,
            (Some(s), Format::Bf16) => scalar_lines::<Bf16>(o, s, m, out)?,
            (None, Format::F32) => loss_lines::<f32>(o, m, out)?,
            (None, Format::F64) => loss_lines::<f64>(o, m, out)?,
            (None, Format::F16) => loss_lines::<F16>(o, m, out)?,
            (None, Format::Bf16) => loss_lines::<Bf16>(o, m, out)?,
        };
        progress(done + 1, groups.len());
    }
    out.flush()?;
    Ok(written)
}

/// Parses a margin range: `"4"`, `"1..=8"`, `"1..8"` (exclusive end) or `"2-6"`.
pub fn parse_m_range(text: &str) -> Result<RangeInclusive<u32>, String> {
    let num = |s: &str| {
        s.trim().parse::<u32>().map_err(|_| {
            format!("invalid margin range \"{text}\": \"{s}\" is not a non-negative integer")
        })
    };
    let (lo, hi) = if let Some((a, b)) = text.split_once("..=") {
        (num(a)?, num(b)?)
    } else if let Some((a, b)) = text.split_once("..") {
        let b = num(b)?;
        (
            num(a)?,
            b.checked_sub(1)
                .ok_or_else(|| format!("empty margin range \"{text}\""))?,
        )
    } else if let Some((a, b)) = text.split_once('-') {
        (num(a)?, num(b)?)
    } else {
        let v = num(text)?;
        (v, v)
    };
    if lo > hi {
        return Err(format!("empty margin range \"{text}\""));
    }
    if hi > multiangle::MAX_M {
        return Err(format!(
            "margin range \"{text}\" goes beyond m = {}",
            multiangle::MAX_M
        ));
    }
    Ok(lo..=hi)
}
