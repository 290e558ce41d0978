//! `eval`'s typed fast path for the scalar ops (`cos_m`, `psi`, `dpsi_dcos`,
//! `dpsi_dtheta`): a line is read into a small [`Request`] of borrowed texts, without
//! building a `serde_json` value, evaluated by the same oracles, and its output line is
//! written straight into a reused buffer.
//!
//! The output is **byte-identical** to the generic path's ([`super::eval::eval_line`]):
//! `{"id":…,"op":"…","value":"…","f64":"…","f32":"…","f16":"…","bf16":"…"}` (and
//! `"f64_odd"`), or the error line of an oracle's error. That holds because this path
//! only answers the lines whose meaning it reads exactly as the generic path does, and
//! declines ([`None`]) every other line, which then goes to the generic path:
//!
//! - the line must be one flat JSON object (JSON whitespace between tokens, nothing after
//!   it) whose keys are distinct and free of escapes;
//! - the keys must be `op` (one of the four scalar ops), `m`, exactly one of `cos` or
//!   `theta`, and optionally `id`, `prec`, `round_to_odd` and the ignored fields of
//!   `json::IGNORED` (the expected outputs of a vectors line) — any other key (a misspelt
//!   field, a loss line's) is declined;
//! - values are strings without escapes or control characters, JSON numbers, `true`,
//!   `false` or `null`; arrays and objects are declined (a nested `id` too), and so is
//!   `null` anywhere but in `id` and the ignored fields (the generic path reads a `null`
//!   field as absent, which then may or may not be an error);
//! - a JSON number's text is normalised as `serde_json` (with `arbitrary_precision`)
//!   keeps it: the exponent marker is written `e` and its sign always written (`1E5` is
//!   `1e+5`), so the echoed `id` and the exact number read are the same;
//! - a field's value that does not read (a malformed number, `m` out of range, a `prec`
//!   that is no integer below 2³², `round_to_odd` not a boolean) is declined, so that the
//!   generic path writes its error line; errors of the oracle itself (c ∉ [−1, 1],
//!   θ ∉ [0, π], `prec` out of range, the precision cap) are written here, with the
//!   generic path's text (`line N: <error>`), so that an expensive failure is not
//!   computed twice.
//!
//! The equivalence is checked line by line by the tests (`tests/eval_fast_path.rs`) on
//! the shipped cases, the bad cases, the cross-check sets and generated edge inputs; the
//! environment variable [`GENERIC_ENV`] turns this path off, so that anyone can compare.

use super::json::{
    IGNORED, number_of_json_text, number_of_string, write_approx_fields, write_error_fields,
};
use super::op::{DEFAULT_PREC, Op, integer_m_value};
use crate::arith::exact::integer_u32;
use crate::arith::{Approx, ziv};
use crate::names::Name;
use crate::{Angle, Error, multiangle, psi};
use rug::Rational;
use std::borrow::Cow;

/// Set to a non-empty value other than `0`, this environment variable makes `eval` read
/// every line through the generic path (for comparing the two paths' outputs).
pub const GENERIC_ENV: &str = "ASOFTMAX_SPEC_EVAL_GENERIC";

/// A scalar-op request as read from a line: texts borrowed from it.
#[derive(Debug, PartialEq)]
pub struct Request<'a> {
    /// The `id` as the generic path writes it back (`null` when absent).
    pub id: Cow<'a, str>,
    /// The op text (its canonical name).
    pub op: &'a str,
    /// `m`.
    pub m: Num<'a>,
    /// `cos` or `theta`, with `true` for `theta`.
    pub angle: (bool, Num<'a>),
    /// `prec`, when given.
    pub prec: Option<Num<'a>>,
    /// `round_to_odd` (false when absent).
    pub round_to_odd: bool,
}

/// A number field's text.
#[derive(Debug, PartialEq)]
pub enum Num<'a> {
    /// A JSON number, normalised as `serde_json` keeps it (see the module docs).
    Json(Cow<'a, str>),
    /// A JSON string's contents (a decimal or hex float).
    Str(&'a str),
}

impl Num<'_> {
    /// The exact rational it denotes (the JSON number rules of [`super::json`]).
    fn value(&self) -> Option<Rational> {
        match self {
            Num::Json(t) => number_of_json_text(t).ok(),
            Num::Str(s) => number_of_string(s).ok(),
        }
    }

    /// The integer it denotes when its text is one to nine decimal digits (a number or a
    /// string: `8`, `"256"`; the same value [`value`](Self::value) gives), without
    /// forming a fraction; `None` for any other text.
    fn small_integer(&self) -> Option<u32> {
        let t: &str = match self {
            Num::Json(t) => t,
            Num::Str(s) => s,
        };
        let digits = (1..=9).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| t.parse().ok()).flatten()
    }

    /// An integer `m` in `min..=MAX_M` ([`integer_m_value`]'s range), without forming a
    /// fraction when it is written as one; the error of the general route otherwise.
    fn integer_m(&self, min: u32) -> Option<Result<u32, String>> {
        match self.small_integer() {
            Some(v) if v >= min && v <= multiangle::MAX_M => Some(Ok(v)),
            _ => Some(integer_m_value(&self.value()?, min)),
        }
    }
}

/// One token value of a flat object.
enum Tok<'a> {
    /// A string's contents (no escapes).
    Str(&'a str),
    /// A JSON number's normalised text.
    Num(Cow<'a, str>),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// A cursor over one line's bytes.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The next byte, if any.
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// Skips JSON whitespace (space, tab, line feed, carriage return).
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Consumes `b` (after whitespace), or `None`.
    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        (self.peek() == Some(b)).then(|| self.at += 1)
    }

    /// A string without escapes or control characters: its contents.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
        self.at += 1;
        Some(&self.text[start..self.at - 1])
    }

    /// Consumes ASCII digits; `true` when there was at least one.
    fn digits(&mut self) -> bool {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at > start
    }

    /// A JSON number (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`), its text
    /// normalised as `serde_json` keeps it: `e` and an explicit exponent sign.
    fn number(&mut self) -> Option<Cow<'a, str>> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !self.digits() {
                return None;
            }
        }
        let mantissa = self.at;
        if !matches!(self.peek(), Some(b'e' | b'E')) {
            return Some(Cow::Borrowed(&self.text[start..mantissa]));
        }
        self.at += 1;
        let signed = matches!(self.peek(), Some(b'+' | b'-'));
        if signed {
            self.at += 1;
        }
        if !self.digits() {
            return None;
        }
        let exp = &self.text[mantissa + 1..self.at];
        if self.text.as_bytes()[mantissa] == b'e' && signed {
            return Some(Cow::Borrowed(&self.text[start..self.at]));
        }
        let sign = if signed { "" } else { "+" };
        Some(Cow::Owned(format!(
            "{}e{sign}{exp}",
            &self.text[start..mantissa]
        )))
    }

    /// `literal` (`true`, `false`, `null`) at the cursor.
    fn literal(&mut self, literal: &str) -> Option<()> {
        self.text[self.at..].starts_with(literal).then(|| {
            self.at += literal.len();
        })
    }

    /// A scalar value (after whitespace); arrays and objects give `None`.
    fn value(&mut self) -> Option<Tok<'a>> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(Tok::Str),
            b't' => self.literal("true").map(|()| Tok::Bool(true)),
            b'f' => self.literal("false").map(|()| Tok::Bool(false)),
            b'n' => self.literal("null").map(|()| Tok::Null),
            _ => self.number().map(Tok::Num),
        }
    }
}

/// The keys a scalar request may have besides [`IGNORED`], in the bit order of
/// [`read`]'s duplicate check: `op`, the four number fields (in the order of
/// [`NUMBERS`]), `round_to_odd`.
const KEYS: [&str; 6] = ["op", "m", "cos", "theta", "prec", "round_to_odd"];
/// The bit of `op`, the first of the number fields and of `round_to_odd` in [`KEYS`].
const OP: usize = 0;
const NUMBERS: usize = 1;
const ODD: usize = 5;
/// The bit of `id`: the first of [`IGNORED`] (checked by a test), after [`KEYS`].
const ID: usize = KEYS.len();

/// Reads a line as a scalar-op request, or `None` when the typed path declines it (see
/// the module docs: the generic path then reads it).
pub fn read(text: &str) -> Option<Request<'_>> {
    let mut cur = Cursor { text, at: 0 };
    cur.eat(b'{')?;
    let mut seen = 0u64;
    let (mut id, mut op, mut odd) = (None, None, None);
    // m, cos, theta, prec.
    let mut numbers: [Option<Num>; 4] = [None, None, None, None];
    if cur.eat(b'}').is_none() {
        loop {
            let key = cur.string()?;
            cur.eat(b':')?;
            let value_start = {
                cur.ws();
                cur.at
            };
            let value = cur.value()?;
            // Each key is looked up once; the rest goes by its bit.
            let bit = match KEYS.iter().position(|k| *k == key) {
                Some(i) => i,
                None => KEYS.len() + IGNORED.iter().position(|k| *k == key)?,
            };
            if seen & (1 << bit) != 0 {
                return None;
            }
            seen |= 1 << bit;
            match (bit, value) {
                (ID, Tok::Num(n)) => id = Some(n),
                (ID, _) => id = Some(Cow::Borrowed(&text[value_start..cur.at])),
                (OP, Tok::Str(s)) => op = Some(s),
                (ODD, Tok::Bool(b)) => odd = Some(b),
                (NUMBERS..ODD, Tok::Num(n)) => numbers[bit - NUMBERS] = Some(Num::Json(n)),
                (NUMBERS..ODD, Tok::Str(s)) => numbers[bit - NUMBERS] = Some(Num::Str(s)),
                _ if bit > ID => {} // an ignored field
                _ => return None,
            }
            if cur.eat(b',').is_none() {
                cur.eat(b'}')?;
                break;
            }
        }
    }
    cur.ws();
    if cur.at != text.len() {
        return None;
    }
    let op = op?;
    if !is_scalar(Op::parse(op).ok()?) {
        return None;
    }
    let [m, cos, theta, prec] = numbers;
    let angle = match (cos, theta) {
        (Some(c), None) => (false, c),
        (None, Some(t)) => (true, t),
        _ => return None,
    };
    Some(Request {
        id: id.unwrap_or(Cow::Borrowed("null")),
        op,
        m: m?,
        angle,
        prec,
        round_to_odd: odd.unwrap_or(false),
    })
}

/// The ops of this path: `cos_m`, `psi`, `dpsi_dcos`, `dpsi_dtheta`.
fn is_scalar(op: Op) -> bool {
    matches!(op, Op::CosM | Op::Psi | Op::DpsiDcos | Op::DpsiDtheta)
}

/// Evaluates a request: `None` when a field does not read (the generic path then writes
/// its error), else the oracle's result.
pub fn evaluate(req: &Request) -> Option<Result<Approx, Error>> {
    let op = Op::parse(req.op).ok()?;
    let prec = match &req.prec {
        None => DEFAULT_PREC,
        Some(p) => match p.small_integer() {
            Some(v) => v,
            None => integer_u32(&p.value()?)?,
        },
    };
    // The integer ops check their `m` before the angle is read, as the generic path does.
    let mi = match op {
        Op::CosM => Some(req.m.integer_m(0)?.ok()?),
        Op::DpsiDcos => Some(req.m.integer_m(1)?.ok()?),
        _ => None,
    };
    let x = req.angle.1.value()?;
    let at = if req.angle.0 {
        Angle::Theta(x)
    } else {
        Angle::Cos(x)
    };
    let run = || -> Option<Result<Approx, Error>> {
        Some(match (op, mi, &at, req.m.small_integer()) {
            (Op::CosM, Some(mi), _, _) => multiangle::cos_m(mi, &at, prec),
            (Op::DpsiDcos, Some(mi), _, _) => psi::dpsi_dcos(mi, &at, prec),
            (Op::Psi, _, Angle::Cos(c), Some(m)) => psi::psi_integer(m, c, prec),
            (Op::Psi, _, _, _) => psi::psi(&req.m.value()?, &at, prec),
            _ => psi::dpsi_dtheta(&req.m.value()?, &at, prec),
        })
    };
    if req.round_to_odd {
        ziv::requiring_round_to_odd(run)
    } else {
        run()
    }
}

/// Reads, evaluates and writes one line (1-based `line`) into `out`, without its newline:
/// `Some(is_error)`, or `None` (and `out` untouched) when the typed path declines the
/// line.
pub fn eval_into(text: &str, line: usize, out: &mut String) -> Option<bool> {
    let req = read(text)?;
    let result = evaluate(&req)?;
    out.push_str("{\"id\":");
    out.push_str(&req.id);
    match result {
        Ok(a) => {
            out.push_str(",\"op\":\"");
            out.push_str(req.op);
            out.push('"');
            write_approx_fields(out, &a, req.round_to_odd);
            out.push('}');
            Some(false)
        }
        Err(e) => {
            write_error_fields(out, line, &e.to_string());
            Some(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`read`] finds `id` by its bit [`ID`], and each number field by [`NUMBERS`].
    #[test]
    fn key_bits_are_the_tables() {
        assert_eq!(IGNORED[ID - KEYS.len()], "id");
        assert_eq!(KEYS[OP], "op");
        assert_eq!(KEYS[ODD], "round_to_odd");
        assert_eq!(KEYS[NUMBERS..ODD], ["m", "cos", "theta", "prec"]);
        let r = read(r#"{"id":7,"op":"psi","m":"3","theta":0.5,"prec":64}"#).unwrap();
        assert_eq!(
            (r.id.as_ref(), r.op, r.prec),
            ("7", "psi", Some(Num::Json("64".into())))
        );
        assert_eq!(
            (r.m, r.angle),
            (Num::Str("3"), (true, Num::Json("0.5".into())))
        );
    }
}
