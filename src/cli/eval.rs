//! `asoftmax-spec eval`: one JSON object in, one JSON object out, per line.
//!
//! Input fields: `op` (required); `id` (optional, any JSON value, echoed back);
//! `m`; exactly one of `theta` or `cos` for angle ops; `prec` (bits of `value`,
//! default 256, from [`MIN_PREC`](crate::arith::MIN_PREC) to
//! [`MAX_PREC`](crate::arith::MAX_PREC)).
//!
//! Output: `id` and `op` echoed, then `value` (decimal, error below one unit in
//! its last digit), `f64` and `f32` (correctly rounded, C99 hex float). A line that
//! cannot be evaluated gives `{"id":…, "line":N, "error":"<what and why>"}`.

use super::json::{Fields, approx_fields, kind};
use crate::{Angle, multiangle, psi};
use rug::Rational;
use serde_json::{Map, Value};

/// Default output precision in bits.
pub const DEFAULT_PREC: u32 = 256;

/// The ops `eval` understands, for error messages.
pub const OPS: &[&str] = &["cos_m", "psi", "dpsi_dcos", "dpsi_dtheta"];

/// Evaluates one parsed request; `Err` holds the message of an error line.
pub fn eval_request(obj: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut f = Fields::new(obj);
    let op = f.string("op")?;
    let prec = f.u32_or("prec", DEFAULT_PREC)?;
    let result = match op {
        "cos_m" => {
            let m = integer_m(&mut f, 0)?;
            let at = angle(&mut f)?;
            f.finish()?;
            multiangle::cos_m(m, &at, prec)
        }
        "psi" => {
            let m = f.number("m")?;
            let at = angle(&mut f)?;
            f.finish()?;
            psi::psi(&m, &at, prec)
        }
        "dpsi_dcos" => {
            let m = integer_m(&mut f, 1)?;
            let at = angle(&mut f)?;
            f.finish()?;
            psi::dpsi_dcos(m, &at, prec)
        }
        "dpsi_dtheta" => {
            let m = f.number("m")?;
            let at = angle(&mut f)?;
            f.finish()?;
            psi::dpsi_dtheta(&m, &at, prec)
        }
        other => {
            return Err(format!(
                "unknown op \"{other}\" (expected one of: {})",
                OPS.join(", ")
            ));
        }
    };
    result.map(|a| approx_fields(&a)).map_err(|e| e.to_string())
}

fn integer_m(f: &mut Fields, min: u32) -> Result<u32, String> {
    let m: Rational = f.number("m")?;
    let as_int = (*m.denom() == 1).then(|| m.numer().to_u32()).flatten();
    match as_int {
        Some(v) if v >= min && v <= multiangle::MAX_M => Ok(v),
        _ => Err(format!(
            "m = {} is out of range: expected an integer from {min} to {} for this op",
            crate::describe_rational(&m),
            multiangle::MAX_M
        )),
    }
}

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

/// An error line: `{"id":…, "line":N, "error":"line N: <msg>"}` (`out` holds the id).
fn error_line(mut out: Map<String, Value>, line: usize, msg: &str) -> Value {
    out.insert("line".into(), Value::from(line));
    out.insert("error".into(), Value::String(format!("line {line}: {msg}")));
    Value::Object(out)
}

/// Runs `eval` over a whole input: blank lines are skipped, every other line
/// yields exactly one output line. Returns the number of error lines.
pub fn eval_stream(
    input: impl std::io::BufRead,
    mut out: impl std::io::Write,
) -> std::io::Result<usize> {
    let mut errors = 0;
    for (i, bytes) in input.split(b'\n').enumerate() {
        let bytes = bytes?;
        let (v, is_err) = match std::str::from_utf8(&bytes) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => eval_line(text, i + 1),
            // Not UTF-8: still one error line, and the rest of the input goes on.
            Err(_) => {
                let mut id = Map::new();
                id.insert("id".into(), Value::Null);
                (error_line(id, i + 1, "the line is not valid UTF-8"), true)
            }
        };
        errors += usize::from(is_err);
        writeln!(out, "{v}")?;
    }
    out.flush()?;
    Ok(errors)
}
