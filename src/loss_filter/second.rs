//! The second tier: the outputs the first left undecided, one by one, in MPFR balls
//! over dot products kept to about `4n³u³` of their magnitude ([`dot_rows_fine`]
//! (crate::arith::dw::dot_rows_fine)). Only the samples an output depends on are
//! recomputed: its own for a component of `∂L/∂x_n`, every sample for the loss and
//! for `∂L/∂W`.

use super::encl::{Ball, Encl};
use super::first::transpose;
use super::softmax::{Norms, norms, sample};
use super::{FloatBatch, REFERENCE_REL, Rounded};
use crate::arith::round::round_to;
use crate::arith::{Format, Ival, par, rational_from_f64};
use rug::Float;
use std::collections::{BTreeMap, BTreeSet};

/// Where an output index points: the loss, `∂L/∂x_n[k]` or `∂L/∂W_j[k]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Output {
    Loss,
    GradX(usize, usize),
    GradW(usize, usize),
}

fn output(b: &FloatBatch, i: usize) -> Output {
    let d = b.dim;
    match i {
        0 => Output::Loss,
        i if i <= b.n * d => Output::GradX((i - 1) / d, (i - 1) % d),
        i => Output::GradW((i - 1 - b.n * d) / d, (i - 1) % d),
    }
}

/// The rounding of an enclosure to `f64` and `f32` when both ends round alike (every
/// value between them then rounds the same way: rounding is monotone).
fn decided(iv: &Ival) -> Option<Rounded> {
    let narrow = Float::with_val(64, iv.width()) <= iv.mag() * REFERENCE_REL * 0.5;
    if !narrow {
        return None;
    }
    let same = |fmt| {
        let (a, b) = (round_to(iv.lo(), fmt), round_to(iv.hi(), fmt));
        (a.to_bits() == b.to_bits()).then_some(a)
    };
    let f64 = same(Format::F64)?;
    let f32 = same(Format::F32)? as f32;
    let lo = super::low_part(&iv.mid(), f64);
    Some(Rounded { f64, f32, lo })
}

/// What one sample contributes to the wanted outputs.
struct Part {
    loss: Ival,
    grad_x: Vec<(usize, Ball)>,
    by_class: BTreeMap<usize, (Ball, Ball)>,
}

/// The wanted outputs (indices as in [`super::certify`]'s order), each rounded when this
/// tier decides it; `None` when a needed sample cannot be enclosed.
pub(super) fn refine(b: &FloatBatch, wanted: &[usize]) -> Option<Vec<Option<Rounded>>> {
    let (c, d) = (b.classes, b.dim);
    let wp = Ball::WP;
    let outs: Vec<Output> = wanted.iter().map(|&i| output(b, i)).collect();
    let all = outs.iter().any(|o| !matches!(o, Output::GradX(..)));
    let samples: BTreeSet<usize> = match all {
        true => (0..b.n).collect(),
        false => outs
            .iter()
            .filter_map(|o| match o {
                Output::GradX(n, _) => Some(*n),
                _ => None,
            })
            .collect(),
    };
    let classes: BTreeSet<usize> = outs
        .iter()
        .filter_map(|o| match o {
            Output::GradW(j, _) => Some(*j),
            _ => None,
        })
        .collect();
    let norms: Norms<Ball> = norms(b.w, d, b.scale)?;
    let wt = transpose(b.w, c, d);
    let s_over_n = Ival::from_rational(&(rational_from_f64(b.scale).ok()? / b.n as u32), wp);
    let s_over_n = Ball::of_ival(&s_over_n)?;
    let parts = par::map(samples.into_iter().collect(), |n| {
        let sm = sample::<Ball>(b, &wt, &norms, n)?;
        let x = &b.x[n * d..(n + 1) * d];
        let grad_x = outs
            .iter()
            .filter_map(|o| match *o {
                Output::GradX(m, k) if m == n => Some(k),
                _ => None,
            })
            .map(|k| {
                let e = (0..c).fold(Ball::exact(0.0), |a, j| {
                    a.add(&sm.q(j, &norms).scale(b.w[j * d + k]))
                });
                (k, e.add(&sm.x_coef.scale(x[k])).mul(&s_over_n))
            })
            .collect();
        let by_class = classes
            .iter()
            .map(|&j| (j, (sm.g(j), sm.dots[j].clone())))
            .collect();
        Some((
            n,
            Part {
                loss: sm.loss,
                grad_x,
                by_class,
            },
        ))
    });
    let parts: BTreeMap<usize, Part> = parts.into_iter().collect::<Option<_>>()?;
    let iv = |o: &Output| -> Option<Ival> {
        match *o {
            Output::Loss => {
                let zero = Ival::from_integer(&0.into(), wp);
                let total = parts.values().fold(zero, |a, p| a.add(&p.loss));
                total.div(&Ival::from_integer(&(b.n as u64).into(), wp))
            }
            Output::GradX(n, k) => parts[&n]
                .grad_x
                .iter()
                .find(|(kk, _)| *kk == k)
                .map(|(_, v)| v.ival()),
            Output::GradW(j, k) => {
                let inv_nu = &norms.inv_nu[j];
                let w_over = inv_nu.mul(inv_nu).scale(b.w[j * d + k]);
                let sum = parts.iter().fold(Ball::exact(0.0), |a, (&n, p)| {
                    let (g, dot) = &p.by_class[&j];
                    let proj = Ball::exact(b.x[n * d + k]).sub(&dot.mul(&w_over));
                    a.add(&g.mul(&proj))
                });
                Some(sum.mul(inv_nu).mul(&s_over_n).ival())
            }
        }
    };
    Some(
        outs.iter()
            .map(|o| iv(o).and_then(|v| decided(&v)))
            .collect(),
    )
}
