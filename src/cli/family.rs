//! `eval` loss lines on cosines: `{"op":"loss", "head":…, "cos":…, "y":…}` for every head
//! of the margin family ([`crate::loss::family`]).
//!
//! Common fields: `cos` (`N × C` cosines in `[−1, 1]`), `y` (`N` labels), `semantics`
//! (`analytic`; `straight_through`, `differentiable_acos`), `grad` (false), and `scale`
//! (1) for the softmax heads. Each head's parameters, spelled as in the published code,
//! with its defaults:
//!
//! | `head` | parameters (default) |
//! | --- | --- |
//! | `combined`, `arcface`, `cosface` | as on `x`/`w` lines: `m1` (1), `m2` (0), `m3` (0), `fallback` (`none`); `m`, `fallback` (`none`); `m` |
//! | `sphereface` | `m` (1.5, opensphere) |
//! | `sphereface_r` | `m` (1.5), `version` (`v1` or `v2`, required) |
//! | `sphereface2` | `margin` (`c`; `a`, `m`), `t` (3), `m` (0.4), `r` (40), `b` (required: opensphere initializes it from `C`, an irrational), `alpha` (0.7), `lw` (50) |
//! | `curricularface` | `m` (0.5), `t` (the running `t` this forward uses, after the batch's update) or `t_prev` (the buffer before the batch: the line applies the update `t = 0.01·mean(c_y) + 0.99·t_prev`); one of them is required |
//! | `adaface` | `m` (0.4), `h` (0.333), `eps` (0.001), `norm` (`N` feature norms, required), `mean`, `std` (the batch statistics after the update, required) |
//! | `magface` | `l_a` (10), `u_a` (110), `l_m` (0.45), `u_m` (0.8), `a` (`N` magnitudes, required), `fallback` (`easy`, as MagFace's `MagLinear`; `linear`), `lambda_g` (35) |
//!
//! Output: the loss fields; with `"grad":true` also `grad_cos` (`N × C`) and, for
//! `magface`, `grad_a` (`N`), each component an object of correctly rounded fields.

use super::eval::{approx_matrix, combined_of};
use super::json::{Fields, approx_fields, approx_json};
use crate::head::family::{AdaFace, Head, MagFace};
use crate::head::sphereface2::{Margin as S2Margin, Params};
use crate::head::{Fallback, Kind, Semantics};
use crate::loss::family::FamilySpec;
use rug::Rational;
use serde_json::{Map, Value};

/// `n/d` as a rational.
fn q(n: i64, d: i64) -> Rational {
    Rational::from((n, d))
}

/// A per-sample array of `n` numbers.
fn per_sample(f: &mut Fields, name: &'static str, n: usize) -> Result<Vec<Rational>, String> {
    let v = f.numbers(name)?;
    if v.len() != n {
        return Err(format!(
            "field \"{name}\" has {} entries for {n} rows of \"cos\" (one per sample)",
            v.len()
        ));
    }
    Ok(v)
}

/// The softmax heads of a line, one per sample, and MagFace's `λ_g` (0 for the others).
fn softmax_heads(
    f: &mut Fields,
    kind: Kind,
    cos: &[Vec<Rational>],
    y: &[usize],
) -> Result<(Vec<Head>, Rational), String> {
    let n = cos.len();
    if let Some(c) = combined_of(f, kind)? {
        return Ok((vec![Head::Combined(c); n], Rational::new()));
    }
    let same = |h: Head| Ok((vec![h; n], Rational::new()));
    match kind {
        Kind::SphereFace => same(Head::SphereFace {
            m: f.number_or("m", q(3, 2))?,
        }),
        Kind::SphereFaceR => same(Head::SphereFaceR {
            m: f.number_or("m", q(3, 2))?,
            version: f.name("version")?,
        }),
        Kind::CurricularFace => {
            let m = f.number_or("m", q(1, 2))?;
            let t = curricular_t(f, cos, y)?;
            same(Head::CurricularFace { m, t })
        }
        Kind::AdaFace => {
            let m = f.number_or("m", q(2, 5))?;
            let h = f.number_or("h", q(333, 1000))?;
            let eps = f.number_or("eps", q(1, 1000))?;
            let norms = per_sample(f, "norm", n)?;
            let (mean, std) = (f.number("mean")?, f.number("std")?);
            let heads = norms
                .into_iter()
                .map(|norm| {
                    Head::AdaFace(AdaFace {
                        m: m.clone(),
                        h: h.clone(),
                        eps: eps.clone(),
                        norm,
                        mean: mean.clone(),
                        std: std.clone(),
                    })
                })
                .collect();
            Ok((heads, Rational::new()))
        }
        Kind::MagFace => {
            let l_a = f.number_or("l_a", q(10, 1))?;
            let u_a = f.number_or("u_a", q(110, 1))?;
            let l_m = f.number_or("l_m", q(45, 100))?;
            let u_m = f.number_or("u_m", q(4, 5))?;
            let mags = per_sample(f, "a", n)?;
            let fallback = f.name_or("fallback", Fallback::Easy)?;
            let lambda_g = f.number_or("lambda_g", q(35, 1))?;
            let heads = mags
                .into_iter()
                .map(|a| {
                    Head::MagFace(MagFace {
                        l_a: l_a.clone(),
                        u_a: u_a.clone(),
                        l_m: l_m.clone(),
                        u_m: u_m.clone(),
                        a,
                        fallback,
                    })
                })
                .collect();
            Ok((heads, lambda_g))
        }
        _ => unreachable!("combined heads and SphereFace2 are handled by the callers"),
    }
}

/// CurricularFace's `t` for this forward: `t` as given, or from `t_prev` (the buffer
/// before the batch) by the published update over the batch's target cosines
/// ([`crate::head::family::curricular_next_t`]); exactly one of them.
fn curricular_t(f: &mut Fields, cos: &[Vec<Rational>], y: &[usize]) -> Result<Rational, String> {
    match (f.has("t"), f.has("t_prev")) {
        (true, false) => f.number("t"),
        (false, true) => {
            let prev = f.number("t_prev")?;
            let targets: Vec<Rational> = cos
                .iter()
                .zip(y)
                .map(|(row, &yi)| row.get(yi).cloned())
                .collect::<Option<_>>()
                .ok_or("a label is not a class index of its row of \"cos\"")?;
            crate::head::family::curricular_next_t(&prev, &targets).map_err(|e| e.to_string())
        }
        (true, true) => Err("give exactly one of \"t\" or \"t_prev\", not both".into()),
        (false, false) => {
            Err("missing field \"t\" (or \"t_prev\", the buffer before the batch's update)".into())
        }
    }
}

/// SphereFace2's parameters and margin type.
fn sphereface2_params(f: &mut Fields) -> Result<(Params, S2Margin), String> {
    let margin = f.name_or("margin", S2Margin::C)?;
    let p = Params {
        t: f.u32_or("t", 3)?,
        m: f.number_or("m", q(2, 5))?,
        r: f.number_or("r", q(40, 1))?,
        b: f.number("b")?,
        alpha: f.number_or("alpha", q(7, 10))?,
        lw: f.number_or("lw", q(50, 1))?,
    };
    Ok((p, margin))
}

/// A cosine loss line's batch, as `eval` reads it (module docs): the oracle's input.
pub use crate::conformance::loss_suite::CosineInput as FamilyInput;
/// The oracle's outputs on a cosine batch.
pub use crate::conformance::loss_suite::CosineOutputs as FamilyOutputs;

/// Reads the head, its parameters, `cos`, `y`, `scale` and `semantics` of a line (not
/// `grad`, and without `Fields::finish`).
pub fn read_input(f: &mut Fields) -> Result<FamilyInput, String> {
    let kind: Kind = f.name("head")?;
    let (cos, y) = (f.matrix("cos")?, f.indices("y")?);
    if kind == Kind::SphereFace2 {
        let (p, margin) = sphereface2_params(f)?;
        let semantics = f.name_or("semantics", Semantics::Analytic)?;
        return Ok(FamilyInput::SphereFace2 {
            p,
            margin,
            cos,
            y,
            semantics,
        });
    }
    let (heads, lambda_g) = softmax_heads(f, kind, &cos, &y)?;
    Ok(FamilyInput::Softmax(FamilySpec {
        scale: f.number_or("scale", Rational::from(1))?,
        semantics: f.name_or("semantics", Semantics::Analytic)?,
        cos,
        y,
        heads,
        lambda_g,
    }))
}

/// Evaluates a loss line with `"head"` and `"cos"` (module docs).
pub(super) fn eval_family_loss(
    f: &mut Fields,
    prec: u32,
    odd: bool,
) -> Result<Map<String, Value>, String> {
    let input = read_input(f)?;
    let grad = f.bool_or("grad", false)?;
    f.finish()?;
    let (value, grad_cos, grad_a) = input.oracle(grad, prec).map_err(|e| e.to_string())?;
    let mut fields = approx_fields(&value, odd);
    if let Some(g) = grad_cos {
        fields.insert("grad_cos".into(), approx_matrix(&g, odd));
    }
    if let Some(ga) = grad_a {
        let v = ga.iter().map(|a| approx_json(a, odd)).collect();
        fields.insert("grad_a".into(), Value::Array(v));
    }
    Ok(fields)
}
