//! The second tier: the outputs the first left undecided, recomputed in two steps. First
//! in double words over dot products kept to about `4n³u³` of their magnitude
//! ([`Fine`]: the first tier's arithmetic with finer logits and pairwise sums), then, for
//! what that still leaves, in MPFR balls at 128 bits ([`Ball`]) over the same dot
//! products. Only the samples an output depends on are recomputed: its own for a
//! component of `∂L/∂x_n`, every sample for the loss and for `∂L/∂W`.

use super::encl::{Ball, Encl, Fine, pairwise};
use super::first::transpose;
use super::softmax::{Norms, norms, sample};
use super::{FloatBatch, Reference, Rounded};
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
fn decided(iv: &Ival, rel: f64) -> Option<Rounded> {
    let narrow = Float::with_val(64, iv.width()) <= iv.mag() * rel * 0.5;
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
struct Part<T> {
    loss: Ival,
    grad_x: Vec<(usize, T)>,
    by_class: BTreeMap<usize, (T, T)>,
}

/// The wanted outputs (indices as in [`super::certify`]'s order), each rounded when this
/// tier decides it: [`Fine`] first, [`Ball`] for what it leaves; `None` when a needed
/// sample cannot be enclosed in balls.
pub(super) fn refine(
    b: &FloatBatch,
    wanted: &[usize],
    reference: Reference,
) -> Option<Vec<Option<Rounded>>> {
    let outs: Vec<(Output, f64)> = (wanted.iter())
        .map(|&i| (output(b, i), reference.rel(i)))
        .collect();
    let mut got = refine_in::<Fine>(b, &outs).unwrap_or_else(|| vec![None; outs.len()]);
    let left: Vec<usize> = (0..outs.len()).filter(|&i| got[i].is_none()).collect();
    if !left.is_empty() {
        let rest: Vec<(Output, f64)> = left.iter().map(|&i| outs[i]).collect();
        for (i, r) in left.into_iter().zip(refine_in::<Ball>(b, &rest)?) {
            got[i] = r;
        }
    }
    Some(got)
}

/// The samples the outputs depend on: all of them for the loss or a component of `∂L/∂W`.
fn samples_of(b: &FloatBatch, outs: &[(Output, f64)]) -> BTreeSet<usize> {
    match outs.iter().any(|(o, _)| !matches!(o, Output::GradX(..))) {
        true => (0..b.n).collect(),
        false => outs
            .iter()
            .filter_map(|(o, _)| match o {
                Output::GradX(n, _) => Some(*n),
                _ => None,
            })
            .collect(),
    }
}

/// The outputs `outs` in the arithmetic `T`, each rounded when its enclosure decides it
/// within its reference accuracy; `None` when a needed sample cannot be enclosed.
fn refine_in<T: Encl>(b: &FloatBatch, outs: &[(Output, f64)]) -> Option<Vec<Option<Rounded>>> {
    let (c, d) = (b.classes, b.dim);
    let wp = T::WP;
    let classes: BTreeSet<usize> = outs
        .iter()
        .filter_map(|(o, _)| match o {
            Output::GradW(j, _) => Some(*j),
            _ => None,
        })
        .collect();
    let norms: Norms<T> = norms(b.w, d, b.scale)?;
    let wt = transpose(b.w, c, d);
    let s_over_n = Ival::from_rational(&(rational_from_f64(b.scale).ok()? / b.n as u32), wp);
    let s_over_n = T::of_ival(&s_over_n)?;
    let parts = par::map(samples_of(b, outs).into_iter().collect(), |n| {
        let sm = sample::<T>(b, &wt, &norms, n)?;
        let x = &b.x[n * d..(n + 1) * d];
        let grad_x = outs
            .iter()
            .filter_map(|(o, _)| match *o {
                Output::GradX(m, k) if m == n => Some(k),
                _ => None,
            })
            .map(|k| {
                let terms: Vec<T> = (0..c)
                    .map(|j| sm.q(j, &norms).scale(b.w[j * d + k]))
                    .collect();
                let e = pairwise(&terms);
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
    let parts: BTreeMap<usize, Part<T>> = parts.into_iter().collect::<Option<_>>()?;
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
                let terms: Vec<T> = parts
                    .iter()
                    .map(|(&n, p)| {
                        let (g, dot) = &p.by_class[&j];
                        g.mul(&T::exact(b.x[n * d + k]).sub(&dot.mul(&w_over)))
                    })
                    .collect();
                Some(pairwise(&terms).mul(inv_nu).mul(&s_over_n).ival())
            }
        }
    };
    Some(
        outs.iter()
            .map(|(o, rel)| iv(o).and_then(|v| decided(&v, *rel)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::{Backward, Variant};

    /// The middle tier alone, on every output of a random batch: it decides nearly all of
    /// them, each with the exact oracle's bits.
    #[test]
    fn the_fine_tier_decides_and_agrees() {
        let mut units = crate::arith::testing::unit_f32s(0x5eed_f1e0);
        let mut draw = || units.next().expect("endless");
        let (n, classes, dim) = (3, 5, 6);
        let x: Vec<f64> = (0..n * dim).map(|_| draw() * 3.0).collect();
        let w: Vec<f64> = (0..classes * dim).map(|_| draw()).collect();
        let b = FloatBatch {
            x: &x,
            w: &w,
            y: &[0, 4, 2],
            n,
            classes,
            dim,
            m: 4,
            lambda: 0.0,
            scale: 16.0,
            variant: Variant::ASoftmax,
            backward: Backward::Full,
        };
        let total = 1 + (n + classes) * dim;
        let outs: Vec<(Output, f64)> = (0..total)
            .map(|i| (output(&b, i), super::super::REFERENCE_REL))
            .collect();
        let got = refine_in::<Fine>(&b, &outs).expect("encloses");
        let exact = super::super::certify(&b, super::super::Tier::Mpfr).unwrap();
        let want: Vec<Rounded> = std::iter::once(exact.loss)
            .chain(exact.grad_x)
            .chain(exact.grad_w)
            .collect();
        let mut decided = 0;
        for (i, (g, e)) in got.iter().zip(&want).enumerate() {
            if let Some(g) = g {
                decided += 1;
                assert_eq!(
                    (g.f64.to_bits(), g.f32.to_bits()),
                    (e.f64.to_bits(), e.f32.to_bits()),
                    "output {i}"
                );
            }
        }
        assert!(decided * 10 >= total * 9, "{decided}/{total}");
    }
}
