//! Reading exact numbers and typed fields out of JSON objects, with error
//! messages that name the field and say what was wrong.
//!
//! Number rules (shared by every JSON Lines interface of the crate):
//! - a JSON number is taken as the `f64` it rounds to (nearest, ties to even),
//!   parsed exactly from its text (serde_json's `arbitrary_precision` keeps the text);
//! - a string is a decimal (`"-0.125"`, `"1e-30"`) or C99 hex float (`"0x1.8p-1"`)
//!   and denotes that **exact** rational.

use crate::arith::exact::integer_u32;
use crate::arith::round::write_hex;
use crate::arith::ziv::Approx;
use crate::arith::{Format, exact, hex, rational_from_f64};
use crate::names::Name;
use rug::Rational;
use serde_json::{Map, Value, json};

/// Fields every request may carry and the ops ignore: `id`, and what a line of
/// `asoftmax-spec vectors` adds to an eval input (the expected outputs and their
/// provenance), so that a vectors file can be fed to `eval` as it is.
pub const IGNORED: &[&str] = &[
    "id",
    "vectors_version",
    "dtype",
    "origin",
    "value",
    "f64",
    "f32",
    "f16",
    "bf16",
    "f64_odd",
    "scheme",
    "zero_bound",
    "tie_format",
    "tie_bound",
    "grad_x",
    "grad_w",
    "grad_cos",
    "grad_a",
];

/// A JSON object being read field by field; remembers which fields were used so
/// that misspelt fields can be reported.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    /// Wraps an object.
    pub fn new(obj: &'a Map<String, Value>) -> Fields<'a> {
        Fields {
            obj,
            used: IGNORED.to_vec(),
        }
    }

    /// The raw value of `name`, if present (and marks it used).
    pub fn raw(&mut self, name: &'static str) -> Option<&'a Value> {
        self.used.push(name);
        self.obj.get(name).filter(|v| !v.is_null())
    }

    /// `true` when `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.obj.get(name).is_some_and(|v| !v.is_null())
    }

    /// The value of a required field (and marks it used).
    fn required(&mut self, name: &'static str) -> Result<&'a Value, String> {
        self.raw(name)
            .ok_or_else(|| format!("missing field \"{name}\""))
    }

    /// An optional field: `read(self, name)` when it is present, else `default` (and
    /// the field is marked used either way).
    fn or_default<T>(
        &mut self,
        name: &'static str,
        default: T,
        read: impl FnOnce(&mut Self, &'static str) -> Result<T, String>,
    ) -> Result<T, String> {
        if self.has(name) {
            read(self, name)
        } else {
            self.used.push(name);
            Ok(default)
        }
    }

    /// A required exact number.
    pub fn number(&mut self, name: &'static str) -> Result<Rational, String> {
        number_value(self.required(name)?).map_err(|e| format!("field \"{name}\": {e}"))
    }

    /// An optional exact number with a default.
    pub fn number_or(&mut self, name: &'static str, default: Rational) -> Result<Rational, String> {
        self.or_default(name, default, Self::number)
    }

    /// An optional non-negative integer that fits in `u32`, with a default.
    pub fn u32_or(&mut self, name: &'static str, default: u32) -> Result<u32, String> {
        self.or_default(name, default, |f, name| {
            // A JSON integer literal below 2^32 is its own f64: no rational needed.
            let literal = f.raw(name).and_then(Value::as_u64);
            if let Some(v) = literal.and_then(|v| u32::try_from(v).ok()) {
                return Ok(v);
            }
            let r = f.number(name)?;
            integer_u32(&r).ok_or_else(|| {
                format!(
                    "field \"{name}\": expected a non-negative integer below 2^32, got {}",
                    crate::describe_rational(&r)
                )
            })
        })
    }

    /// A required string.
    pub fn string(&mut self, name: &'static str) -> Result<&'a str, String> {
        match self.required(name)? {
            Value::String(s) => Ok(s),
            other => Err(format!(
                "field \"{name}\": expected a string, got {}",
                kind(other)
            )),
        }
    }

    /// An optional string with a default.
    pub fn string_or(&mut self, name: &'static str, default: &'a str) -> Result<&'a str, String> {
        self.or_default(name, default, Self::string)
    }

    /// A required name from `T`'s table ([`Name::parse`]: the canonical spelling).
    pub fn name<T: Name>(&mut self, name: &'static str) -> Result<T, String> {
        T::parse(self.string(name)?).map_err(|e| format!("field \"{name}\": {e}"))
    }

    /// An optional name from `T`'s table with a default.
    pub fn name_or<T: Name>(&mut self, name: &'static str, default: T) -> Result<T, String> {
        self.or_default(name, default, Self::name)
    }

    /// An optional boolean with a default.
    pub fn bool_or(&mut self, name: &'static str, default: bool) -> Result<bool, String> {
        match self.raw(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(format!(
                "field \"{name}\": expected true or false, got {}",
                kind(other)
            )),
        }
    }

    /// A required matrix of exact numbers (array of arrays), rows may differ in
    /// length here; shape checks belong to the op.
    pub fn matrix(&mut self, name: &'static str) -> Result<Vec<Vec<Rational>>, String> {
        self.rows(name, "an array of numbers", number_value)
    }

    /// A required array of rows, each an array (`row_kind` names what a row must be in
    /// the error) whose cells `cell` reads; an error names the field, row and cell
    /// (`field "x"[1][2]: …`).
    pub fn rows<T>(
        &mut self,
        name: &'static str,
        row_kind: &str,
        cell: impl Fn(&Value) -> Result<T, String>,
    ) -> Result<Vec<Vec<T>>, String> {
        self.array(name, "an array of rows")?
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let row = row.as_array().ok_or_else(|| {
                    format!(
                        "field \"{name}\"[{i}]: expected {row_kind}, got {}",
                        kind(row)
                    )
                })?;
                row.iter()
                    .enumerate()
                    .map(|(j, x)| cell(x).map_err(|e| format!("field \"{name}\"[{i}][{j}]: {e}")))
                    .collect()
            })
            .collect()
    }

    /// A required array (`what` names what it must be in the error).
    pub fn array(&mut self, name: &'static str, what: &str) -> Result<&'a Vec<Value>, String> {
        let v = self.required(name)?;
        v.as_array()
            .ok_or_else(|| format!("field \"{name}\": expected {what}, got {}", kind(v)))
    }

    /// A required array of exact numbers; an error names the field and index.
    pub fn numbers(&mut self, name: &'static str) -> Result<Vec<Rational>, String> {
        self.array(name, "an array of numbers")?
            .iter()
            .enumerate()
            .map(|(i, x)| number_value(x).map_err(|e| format!("field \"{name}\"[{i}]: {e}")))
            .collect()
    }

    /// A required array of non-negative integers (labels).
    pub fn indices(&mut self, name: &'static str) -> Result<Vec<usize>, String> {
        self.array(name, "an array of integers")?
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let r = number_value(x).map_err(|e| format!("field \"{name}\"[{i}]: {e}"))?;
                integer_u32(&r).map(|u| u as usize).ok_or_else(|| {
                    format!("field \"{name}\"[{i}]: expected a non-negative integer label")
                })
            })
            .collect()
    }

    /// Fails when the object has fields that were never read (likely misspelt).
    pub fn finish(&self) -> Result<(), String> {
        let unknown: Vec<&str> = self
            .obj
            .keys()
            .map(String::as_str)
            .filter(|k| !self.used.contains(k))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "unknown field{} {} (known here: {})",
                if unknown.len() > 1 { "s" } else { "" },
                unknown
                    .iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                {
                    let mut known: Vec<&str> = self.used[IGNORED.len()..].to_vec();
                    known.dedup();
                    known.join(", ")
                }
            ))
        }
    }
}

/// The exact rational a JSON value denotes (see the module docs).
pub fn number_value(v: &Value) -> Result<Rational, String> {
    match v {
        Value::Number(n) => number_of_json_text(&n.to_string()),
        Value::String(s) => number_of_string(s),
        other => Err(format!(
            "expected a number or a numeric string, got {}",
            kind(other)
        )),
    }
}

/// The exact rational of a JSON number written `text`: the `f64` it rounds to.
pub fn number_of_json_text(text: &str) -> Result<Rational, String> {
    // A short integer literal (below 10^15 < 2^53) is its own f64: no float to convert.
    if text.len() <= 15 && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(Rational::from)
            .map_err(|e| e.to_string());
    }
    let f = exact::f64_of_text(text).map_err(|e| e.to_string())?;
    rational_from_f64(f).map_err(|e| e.to_string())
}

/// The exact rational of a numeric JSON string (its contents `s`): a decimal or hex float.
pub fn number_of_string(s: &str) -> Result<Rational, String> {
    exact::parse_exact(s).map_err(|e| e.to_string())
}

/// A short name of a JSON value's kind, for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The output fields of one result, all decided by proof: `value`, then the correct
/// roundings `f64`, `f32`, `f16`, `bf16` (hex floats of each format), and with
/// `round_to_odd` also `f64_odd`, the binary64 round-to-odd (from which any format of at
/// most 51 bits rounds correctly: [`round_odd_f64`](crate::arith::round_odd_f64)).
/// (Earlier versions could add `zero_bound`, `tie_format` and `tie_bound` for values
/// they assumed to be 0 or a rounding midpoint; nothing is assumed any more, so those
/// fields are never written, and readers still accept them.)
pub fn approx_fields(a: &Approx, round_to_odd: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("value".into(), json!(a.decimal()));
    for fmt in Format::EVERY {
        m.insert(fmt.name().into(), json!(hex(a.rounded(fmt), fmt)));
    }
    // Decided whenever it was asked for (the value was computed inside
    // `ziv::requiring_round_to_odd`).
    if let Some(odd) = a.f64_odd().filter(|_| round_to_odd) {
        m.insert("f64_odd".into(), json!(hex(odd, Format::F64)));
    }
    m
}

/// [`approx_fields`] written as JSON text straight into `out`, each field preceded by a
/// comma (`,"value":"…","f64":"…",…`): the same fields in the same order with the same
/// texts, without building a map. (Every text is a decimal or hex float, which JSON
/// strings hold without escapes.)
pub fn write_approx_fields(out: &mut String, a: &Approx, round_to_odd: bool) {
    out.push_str(",\"value\":\"");
    a.write_decimal(out);
    out.push('"');
    for fmt in Format::EVERY {
        write_hex_field(out, fmt.name(), a.rounded(fmt), fmt);
    }
    if let Some(odd) = a.f64_odd().filter(|_| round_to_odd) {
        write_hex_field(out, "f64_odd", odd, Format::F64);
    }
}

/// `,"<name>":"<hex of v in fmt>"`.
fn write_hex_field(out: &mut String, name: &str, v: f64, fmt: Format) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":\"");
    write_hex(out, v, fmt);
    out.push('"');
}

/// `approx_fields` as a JSON object value.
pub fn approx_json(a: &Approx, round_to_odd: bool) -> Value {
    Value::Object(approx_fields(a, round_to_odd))
}

/// An error line: `{"id":…, "line":N, "error":"line N: <msg>"}` (`out` holds the id).
pub(super) fn error_line(mut out: Map<String, Value>, line: usize, msg: &str) -> Value {
    out.insert("line".into(), Value::from(line));
    out.insert("error".into(), Value::String(format!("line {line}: {msg}")));
    Value::Object(out)
}

/// The fields of an error line after its `"id"`, as JSON text closing the object:
/// `,"line":N,"error":"line N: <msg>"}` — [`error_line`]'s, for the typed path.
pub(super) fn write_error_fields(out: &mut String, line: usize, msg: &str) {
    use std::fmt::Write;
    let error = Value::String(format!("line {line}: {msg}"));
    // Infallible: writing to a String.
    let _ = write!(out, ",\"line\":{line},\"error\":{error}}}");
}
