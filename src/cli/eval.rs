//! `asoftmax-spec eval`: one JSON object in, one JSON object out, per line.
//!
//! Input fields: `op` (required); `id` (optional, any JSON value, echoed back);
//! `m`; exactly one of `theta` or `cos` for angle ops; `prec` (bits of `value`,
//! default 256, from [`MIN_PREC`](crate::arith::MIN_PREC) to
//! [`MAX_PREC`](crate::arith::MAX_PREC)); `round_to_odd` (default false: also write
//! `f64_odd`).
//!
//! | op | fields |
//! | --- | --- |
//! | `cos_m` | `m` (integer ≥ 0), `cos` or `theta` |
//! | `psi`, `dpsi_dtheta` | `m` (≥ 1, integer or real), `cos` or `theta` |
//! | `dpsi_dcos` | `m` (integer ≥ 1), `cos` or `theta` |
//! | `loss` | `x` (N×d), `w` (C×d), `y` (N labels), `m`; optional `variant` (`"a_softmax"`, `"l_softmax"`), `lambda` (0), `scale` (1), `grad` (false), `backward` (`"full"`, `"detached_margin"`) |
//! | `loss` with a head | `head` (`"combined"`: `m1` (1), `m2` (0), `m3` (0), `fallback` (`"none"`); `"arcface"`: `m`, `fallback`; `"cosface"`: `m`), `semantics` (`"analytic"`, `"straight_through"`, `"differentiable_acos"`), `x`, `w`, `y`, `lambda`, `scale`, `grad`: cosine logits `s·cos θ_j`, `s·t(cos θ_y)` ([`crate::loss::Head`]) |
//! | `loss` on cosines | `head` (any head of the family) with its parameters and state, `cos` (N×C), `y`, `semantics`, `scale` (1; not `sphereface2`), `grad`: [`super::family`] |
//! | `lambda` | `iter`; optional `base` (1000), `gamma` (0.12), `power` (1), `lambda_min` (5) |
//! | `angular_margin` | `m`, `angle` (Θ in radians) |
//! | `m_min` | `setting` (`"binary"` or `"multiclass"`) |
//!
//! With `"grad":true` a loss line also has `grad_x` (N×d) and `grad_w` (C×d) — a line on
//! cosines `grad_cos` (N×C), and for `magface` `grad_a` (N) —:
//! nested arrays of objects `{"value":…, "f64":…, "f32":…, "f16":…, "bf16":…}`.
//!
//! Output: `id` and `op` echoed, then `value` (decimal, error below one unit in
//! its last digit), `f64`, `f32`, `f16` and `bf16` (correctly rounded, C99 hex float),
//! and with `"round_to_odd":true` `f64_odd` (the binary64 round-to-odd). A line that
//! cannot be evaluated gives `{"id":…, "line":N, "error":"<what and why>"}`.
//!
//! Two readers, one output: the lines of the scalar ops go through the typed fast path
//! ([`super::typed`]: no `serde_json` value is built, the output is written straight
//! into a buffer) whenever it reads them exactly as the generic path ([`eval_line`])
//! does; every other line goes through the generic path. The bytes are the same either
//! way ([`Reader`]; the environment variable `ASOFTMAX_SPEC_EVAL_GENERIC=1` forces the
//! generic path, to compare).

use super::json::{Fields, approx_fields, approx_json, error_line, kind};
/// The output precision of a line without `prec` (defined with the ops).
pub use super::op::DEFAULT_PREC;
use super::op::{Op, integer_m_value};
use crate::head::{Combined, Fallback, Kind, Semantics};
use crate::loss::{self, Backward, Head, LambdaSchedule, LossSpec, Variant};
use crate::names::Name;
use crate::{Angle, margin, multiangle, psi};
use rug::Rational;
use serde_json::{Map, Value};

/// Evaluates one parsed request; `Err` holds the message of an error line.
pub fn eval_request(obj: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut f = Fields::new(obj);
    let op = f.string("op")?;
    let prec = f.u32_or("prec", DEFAULT_PREC)?;
    let odd = f.bool_or("round_to_odd", false)?;
    if odd {
        return crate::arith::ziv::requiring_round_to_odd(|| evaluate(&mut f, op, prec, odd));
    }
    evaluate(&mut f, op, prec, odd)
}

/// Evaluates the request `op` whose other fields `f` holds (see [`eval_request`]).
fn evaluate(f: &mut Fields, op: &str, prec: u32, odd: bool) -> Result<Map<String, Value>, String> {
    let result = match Op::parse(op)? {
        // Arguments are read left to right: `m`, then the angle and the field check.
        Op::CosM => multiangle::cos_m(integer_m(f, 0)?, &last_angle(f)?, prec),
        Op::Psi => psi::psi(&f.number("m")?, &last_angle(f)?, prec),
        Op::DpsiDcos => psi::dpsi_dcos(integer_m(f, 1)?, &last_angle(f)?, prec),
        Op::DpsiDtheta => psi::dpsi_dtheta(&f.number("m")?, &last_angle(f)?, prec),
        Op::Loss => return eval_loss(f, prec, odd),
        Op::Lambda => {
            let sched = LambdaSchedule {
                base: f.number_or("base", Rational::from(1000))?,
                gamma: f.number_or("gamma", Rational::from((12, 100)))?,
                power: f.number_or("power", Rational::from(1))?,
                lambda_min: f.number_or("lambda_min", Rational::from(5))?,
                iter: f.number("iter")?,
            };
            f.finish()?;
            loss::lambda(&sched, prec)
        }
        Op::AngularMargin => {
            let m = f.number("m")?;
            let angle = f.number("angle")?;
            f.finish()?;
            margin::angular_margin(&m, &angle, prec)
        }
        Op::MMin => {
            let setting: margin::Setting = f.name("setting")?;
            f.finish()?;
            margin::m_min(setting, prec)
        }
    };
    result
        .map(|a| approx_fields(&a, odd))
        .map_err(|e| e.to_string())
}

/// A loss line's head: `"head"` (`combined`, `arcface`, `cosface`) with its parameters —
/// `m1` (1), `m2` (0), `m3` (0) and `fallback` (`none`) for `combined`, `m` and
/// `fallback` for `arcface`, `m` for `cosface` — and `semantics` (`analytic`); `None`
/// without a `"head"` field (an A-Softmax/L-Softmax line). The other heads take cosines
/// (`"cos"`: [`super::family`]).
pub(super) fn head_of(f: &mut Fields) -> Result<Option<Head>, String> {
    if !f.has("head") {
        return Ok(None);
    }
    let kind: Kind = f.name("head")?;
    let Some(margin) = combined_of(f, kind)? else {
        let names: Vec<&str> = Kind::FEATURES.iter().map(|k| k.name()).collect();
        return Err(format!(
            "head \"{}\" takes cosines: give \"cos\" (N×C) and \"y\" in place of \"x\" and \"w\" \
             (features \"x\" and class weights \"w\" are taken by {})",
            kind.name(),
            names.join(", ")
        ));
    };
    let semantics = f.name_or("semantics", Semantics::Analytic)?;
    Ok(Some(Head { margin, semantics }))
}

/// The parameters of a combined-margin head (`combined`: `m1` (1), `m2` (0), `m3` (0),
/// `fallback` (`none`); `arcface`: `m`, `fallback` (`none`); `cosface`: `m`), `None`
/// for the other kinds.
pub(super) fn combined_of(f: &mut Fields, kind: Kind) -> Result<Option<Combined>, String> {
    Ok(Some(match kind {
        Kind::Combined => Combined {
            m1: f.number_or("m1", Rational::from(1))?,
            m2: f.number_or("m2", Rational::new())?,
            m3: f.number_or("m3", Rational::new())?,
            fallback: f.name_or("fallback", Fallback::None)?,
        },
        Kind::ArcFace => {
            let m = f.number("m")?;
            Combined::arcface(m, f.name_or("fallback", Fallback::None)?)
        }
        Kind::CosFace => Combined::cosface(f.number("m")?),
        _ => return Ok(None),
    }))
}

/// `{"op":"loss", "variant", "m", "lambda", "scale", "x", "w", "y", "grad", "backward"}`,
/// or with `"head"` ([`head_of`]) in place of `variant`, `m` and `backward`.
fn eval_loss(f: &mut Fields, prec: u32, odd: bool) -> Result<Map<String, Value>, String> {
    if f.has("head") && f.has("cos") {
        return super::family::eval_family_loss(f, prec, odd);
    }
    let head = head_of(f)?;
    let (variant, backward) = if head.is_some() {
        (Variant::ASoftmax, Backward::Full)
    } else {
        (
            f.name_or("variant", Variant::ASoftmax)?,
            f.name_or("backward", Backward::Full)?,
        )
    };
    let (x, w, y) = (f.matrix("x")?, f.matrix("w")?, f.indices("y")?);
    let m = if head.is_some() {
        Rational::from(1)
    } else {
        f.number("m")?
    };
    let mut spec = LossSpec::new(x, w, y, m);
    spec.lambda = f.number_or("lambda", Rational::new())?;
    spec.scale = f.number_or("scale", Rational::from(1))?;
    spec.variant = variant;
    spec.backward = backward;
    spec.head = head;
    let grad = f.bool_or("grad", false)?;
    f.finish()?;
    let out = loss::loss(&spec, grad, prec).map_err(|e| e.to_string())?;
    let mut fields = approx_fields(&out.loss, odd);
    if let Some(gx) = out.grad_x {
        fields.insert("grad_x".into(), approx_matrix(&gx, odd));
    }
    if let Some(gw) = out.grad_w {
        fields.insert("grad_w".into(), approx_matrix(&gw, odd));
    }
    Ok(fields)
}

/// A matrix of results as nested arrays of [`approx_json`] objects.
pub(super) fn approx_matrix(g: &[Vec<crate::arith::Approx>], odd: bool) -> Value {
    Value::Array(
        g.iter()
            .map(|row| Value::Array(row.iter().map(|a| approx_json(a, odd)).collect()))
            .collect(),
    )
}

/// A required integer `m` from `min` to [`multiangle::MAX_M`].
pub(super) fn integer_m(f: &mut Fields, min: u32) -> Result<u32, String> {
    integer_m_value(&f.number("m")?, min)
}

/// The angle (`theta` or `cos`) as the last field of a request: the fields are then
/// checked ([`Fields::finish`]).
fn last_angle(f: &mut Fields) -> Result<Angle, String> {
    let at = angle(f)?;
    f.finish()?;
    Ok(at)
}

/// Exactly one of `theta` or `cos`.
fn angle(f: &mut Fields) -> Result<Angle, String> {
    match (f.has("theta"), f.has("cos")) {
        (true, false) => Ok(Angle::Theta(f.number("theta")?)),
        (false, true) => Ok(Angle::Cos(f.number("cos")?)),
        (true, true) => Err("give exactly one of \"theta\" or \"cos\", not both".into()),
        (false, false) => Err("missing angle: give one of \"theta\" or \"cos\"".into()),
    }
}

/// Evaluates one input line (1-based `line` for messages). Returns the output
/// object and whether it is an error line.
pub fn eval_line(text: &str, line: usize) -> (Value, bool) {
    let (id, op, result) = match serde_json::from_str::<Value>(text) {
        Err(e) => (Value::Null, None, Err(format!("invalid JSON: {e}"))),
        Ok(Value::Object(obj)) => {
            let id = obj.get("id").cloned().unwrap_or(Value::Null);
            let op = obj.get("op").cloned();
            (id, op, eval_request(&obj))
        }
        Ok(other) => (
            Value::Null,
            None,
            Err(format!("expected a JSON object, got {}", kind(&other))),
        ),
    };
    let mut out = Map::new();
    out.insert("id".into(), id);
    match result {
        Ok(fields) => {
            out.insert("op".into(), op.unwrap_or(Value::Null));
            out.extend(fields);
            (Value::Object(out), false)
        }
        Err(msg) => (error_line(out, line, &msg), true),
    }
}

/// How [`eval_stream_with`] reads its lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// The typed fast path ([`super::typed`]) for the scalar-op lines it reads exactly as
    /// the generic path does, the generic path ([`eval_line`]) for every other line. The
    /// output is the same bytes as with [`Reader::Generic`], faster.
    Typed,
    /// Every line through the generic path ([`eval_line`]).
    Generic,
}

impl Reader {
    /// [`Reader::Generic`] when the environment variable
    /// [`ASOFTMAX_SPEC_EVAL_GENERIC`](super::typed::GENERIC_ENV) is set to a non-empty
    /// value other than `0`, else [`Reader::Typed`].
    pub fn from_env() -> Reader {
        match std::env::var_os(super::typed::GENERIC_ENV) {
            Some(v) if !v.is_empty() && v != "0" => Reader::Generic,
            _ => Reader::Typed,
        }
    }
}

/// Most lines in one chunk of [`eval_stream`].
const CHUNK_LINES: usize = 1024;
/// Most bytes of input in one chunk of [`eval_stream`] (a chunk ends after the line
/// that reaches it).
const CHUNK_BYTES: usize = 8 << 20;
/// Most lines one task of a chunk evaluates in a row (into one output buffer).
const GROUP_LINES: usize = 64;

/// [`eval_stream_with`] with the reader [`Reader::from_env`] chooses (the typed fast path
/// unless `ASOFTMAX_SPEC_EVAL_GENERIC` is set).
pub fn eval_stream(
    input: impl std::io::BufRead,
    out: impl std::io::Write,
) -> std::io::Result<usize> {
    eval_stream_with(input, out, Reader::from_env())
}

/// Runs `eval` over a whole input: blank lines are skipped, every other line
/// yields exactly one output line. Returns the number of error lines.
///
/// The input is read in ordered chunks (at most [`CHUNK_LINES`] lines or about
/// [`CHUNK_BYTES`] bytes, so memory stays bounded on an endless stream); the lines of a
/// chunk are cut into runs of consecutive lines (about eight per thread, at most
/// `GROUP_LINES` = 64), each evaluated into one text buffer, the runs in parallel
/// ([`crate::arith::par`]); the buffers are written in input order, so the output is the
/// same bytes at any thread count and with either [`Reader`]. A read error ends the
/// stream after the lines read before it are written.
pub fn eval_stream_with(
    mut input: impl std::io::BufRead,
    mut out: impl std::io::Write,
    reader: Reader,
) -> std::io::Result<usize> {
    let (mut errors, mut line_no, mut buf) = (0, 0, Vec::new());
    loop {
        buf.clear();
        let (mut lines, mut failed, mut at_end) = (Vec::new(), None, false);
        while lines.len() < CHUNK_LINES && buf.len() < CHUNK_BYTES {
            let start = buf.len();
            match input.read_until(b'\n', &mut buf) {
                Ok(0) => {
                    at_end = true;
                    break;
                }
                Ok(_) => {
                    line_no += 1;
                    let end = buf.len() - usize::from(buf.last() == Some(&b'\n'));
                    lines.push((line_no, start..end));
                }
                Err(e) => {
                    // As a line iterator would: the part of the line read is dropped.
                    buf.truncate(start);
                    failed = Some(e);
                    break;
                }
            }
        }
        let group = lines
            .len()
            .div_ceil(8 * crate::arith::par::threads())
            .clamp(1, GROUP_LINES);
        let runs: Vec<_> = lines.chunks(group).collect();
        let outputs = crate::arith::par::map(runs, |run| {
            // Room for a scalar line's output (about 250 bytes at the default precision).
            let (mut text, mut errs) = (String::with_capacity(run.len() * 256), 0);
            for (line, range) in run {
                let is_err = eval_bytes_into(&buf[range.clone()], *line, reader, &mut text);
                errs += usize::from(is_err == Some(true));
            }
            (text, errs)
        });
        for (text, errs) in outputs {
            errors += errs;
            out.write_all(text.as_bytes())?;
        }
        if let Some(e) = failed {
            out.flush()?;
            return Err(e);
        }
        if at_end {
            break;
        }
    }
    out.flush()?;
    Ok(errors)
}

/// One input line (1-based `line`): its output line (with the newline) appended to `out`,
/// and whether it is an error line; `None` (nothing written) for a blank line.
fn eval_bytes_into(bytes: &[u8], line: usize, reader: Reader, out: &mut String) -> Option<bool> {
    use std::fmt::Write;
    let (v, is_err) = match std::str::from_utf8(bytes) {
        Ok(text) if text.trim().is_empty() => return None,
        Ok(text) => {
            if reader == Reader::Typed {
                if let Some(is_err) = super::typed::eval_into(text, line, out) {
                    out.push('\n');
                    return Some(is_err);
                }
            }
            eval_line(text, line)
        }
        // Not UTF-8: still one error line, and the rest of the input goes on.
        Err(_) => {
            let mut id = Map::new();
            id.insert("id".into(), Value::Null);
            (error_line(id, line, "the line is not valid UTF-8"), true)
        }
    };
    // Infallible: writing to a String.
    let _ = writeln!(out, "{v}");
    Some(is_err)
}
