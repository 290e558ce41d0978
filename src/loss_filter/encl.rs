//! The two tiers' arithmetic behind one trait, so that the softmax of a sample
//! ([`super::softmax`]) is written once: [`Dw`] (double words with a running bound, the
//! first tier) and [`Ball`] (MPFR balls at 128 bits over dot products kept to about
//! `4n³u³`, the second).

use crate::arith::Ival;
use crate::arith::dw::{
    Dw, U, dot_bound, dot_bound_fine, dot_rows, dot_rows_fine, dot_rows_group, dot_rows_group_exact,
};
use rug::Float;
use rug::float::Round;

/// An enclosure of a real number, closed under the operations the loss needs.
pub(super) trait Encl: Clone + Send + Sync + Sized {
    /// MPFR's working precision for the values this tier encloses with MPFR.
    const WP: u32;
    /// The exact `v`.
    fn exact(v: f64) -> Self;
    /// `self + o`.
    fn add(&self, o: &Self) -> Self;
    /// `self − o`.
    fn sub(&self, o: &Self) -> Self;
    /// `self·o`.
    fn mul(&self, o: &Self) -> Self;
    /// `self·v` for an exact `v`.
    fn scale(&self, v: f64) -> Self;
    /// `−self`.
    fn neg(&self) -> Self;
    /// From an MPFR enclosure (`None`: out of this tier's range).
    fn of_ival(iv: &Ival) -> Option<Self>;
    /// As an MPFR enclosure at [`Self::WP`].
    fn ival(&self) -> Ival;
    /// `e^self` for `self ≤ 0` up to its error (`None`: too uncertain to be useful).
    fn exp_nonpos(&self) -> Option<Self>;
    /// A number in (or next to) the enclosure, to pick a reference class by.
    fn key(&self) -> f64;
    /// `out[k] = Σ_i q_i·rows[i][k]` for exact `q_i`, `rows` being `width` wide.
    fn dots(q: &[f64], rows: &[f64], width: usize) -> Vec<Self>;
    /// [`Encl::dots`] for each of `qs`, the same values (a tier may share the passes
    /// over `rows`).
    fn dots_group(qs: &[&[f64]], rows: &[f64], width: usize) -> Vec<Vec<Self>> {
        qs.iter().map(|q| Self::dots(q, rows, width)).collect()
    }
}

impl Encl for Dw {
    const WP: u32 = 192;

    fn exact(v: f64) -> Dw {
        Dw::exact(v)
    }
    fn add(&self, o: &Dw) -> Dw {
        *self + *o
    }
    fn sub(&self, o: &Dw) -> Dw {
        *self - *o
    }
    fn mul(&self, o: &Dw) -> Dw {
        *self * *o
    }
    fn scale(&self, v: f64) -> Dw {
        *self * v
    }
    fn neg(&self) -> Dw {
        -*self
    }
    fn of_ival(iv: &Ival) -> Option<Dw> {
        Dw::from_ival(iv)
    }
    fn ival(&self) -> Ival {
        self.to_ival(Self::WP)
    }
    fn exp_nonpos(&self) -> Option<Dw> {
        Dw::exp_nonpos(*self)
    }
    fn key(&self) -> f64 {
        self.hi
    }
    fn dots(q: &[f64], rows: &[f64], width: usize) -> Vec<Dw> {
        Coefs::exact(q).times(rows, width, &[])
    }
    fn dots_group(qs: &[&[f64]], rows: &[f64], width: usize) -> Vec<Vec<Dw>> {
        let coefs: Vec<Coefs> = qs.iter().map(|q| Coefs::exact(q)).collect();
        Coefs::times_group(&coefs, rows, width, &[])
    }
}

/// `Σ_i v_i` by pairwise halving. Each addition's bound is charged on its own result, and
/// at each of the `⌈log₂ n⌉` levels the partial sums of nonnegative terms add up to the
/// total: the charges come to about `⌈log₂ n⌉·2⁻¹⁰¹` of the sum, where a running fold
/// charges `n/2·2⁻¹⁰¹` (book: the filter chapter). The empty sum is `0`.
pub(super) fn pairwise<T: Encl>(v: &[T]) -> T {
    match v {
        [] => T::exact(0.0),
        [a] => a.clone(),
        _ => {
            let (a, b) = v.split_at(v.len() / 2);
            pairwise(a).add(&pairwise(b))
        }
    }
}

/// Coefficients of a product with their bounds: `err ≤ ρ·|hi|` where `hi ≠ 0`,
/// `err ≤ η` where `hi = 0`.
pub(super) struct Coefs {
    hi: Vec<f64>,
    lo: Vec<f64>,
    rho: f64,
    eta: f64,
}

impl Coefs {
    pub(super) fn of(v: &[Dw]) -> Coefs {
        let (mut rho, mut eta) = (0.0f64, 0.0f64);
        for c in v {
            if c.hi == 0.0 {
                eta = eta.max(c.err);
            } else {
                rho = rho.max(c.err / c.hi.abs());
            }
        }
        Coefs {
            hi: v.iter().map(|c| c.hi).collect(),
            lo: v.iter().map(|c| c.lo).collect(),
            rho: rho * (1.0 + 4.0 * U),
            eta,
        }
    }

    /// Exact coefficients.
    fn exact(q: &[f64]) -> Coefs {
        Coefs {
            hi: q.to_vec(),
            lo: vec![0.0; q.len()],
            rho: 0.0,
            eta: 0.0,
        }
    }

    /// `Σ_i c_i·rows[i][k]` for every `k`, enclosed: [`dot_rows`]'s bound plus the
    /// coefficients' own, `ρ·Σ|hi·row| + η·Σ|row|` (`col_abs[k] = Σ_i |rows[i][k]|`,
    /// unused when `η = 0`).
    pub(super) fn times(&self, rows: &[f64], width: usize, col_abs: &[f64]) -> Vec<Dw> {
        let mut out = [Vec::new(), Vec::new(), Vec::new()];
        dot_rows(&self.hi, &self.lo, rows, width, &mut out);
        self.enclose(&out, col_abs)
    }

    /// [`Coefs::times`] for each of `coefs` in one pass over `rows` per group
    /// ([`dot_rows_group`]: the same values).
    pub(super) fn times_group(
        coefs: &[Coefs],
        rows: &[f64],
        width: usize,
        col_abs: &[f64],
    ) -> Vec<Vec<Dw>> {
        let qs: Vec<(&[f64], &[f64])> = coefs.iter().map(|c| (&c.hi[..], &c.lo[..])).collect();
        let mut outs = vec![[Vec::new(), Vec::new(), Vec::new()]; coefs.len()];
        dot_rows_group(&qs, rows, width, &mut outs);
        coefs
            .iter()
            .zip(&outs)
            .map(|(c, out)| c.enclose(out, col_abs))
            .collect()
    }

    /// [`Encl::dots_group`] in double words for `f32` coefficients and rows, whose
    /// products are exact in binary64 ([`dot_rows_group_exact`]: the same values).
    pub(super) fn exact_f32_group(qs: &[&[f64]], rows: &[f64], width: usize) -> Vec<Vec<Dw>> {
        let zeros = vec![0.0; qs.first().map_or(0, |q| q.len())];
        let pairs: Vec<(&[f64], &[f64])> = qs.iter().map(|q| (*q, &zeros[..])).collect();
        let mut outs = vec![[Vec::new(), Vec::new(), Vec::new()]; qs.len()];
        dot_rows_group_exact(&pairs, rows, width, &mut outs);
        qs.iter()
            .zip(&outs)
            .map(|(q, out)| Coefs::exact(q).enclose(out, &[]))
            .collect()
    }

    /// The loop's sums `out` (`hi`, `lo`, `abs`) with their bounds.
    fn enclose(&self, out: &[Vec<f64>; 3], col_abs: &[f64]) -> Vec<Dw> {
        let kb = dot_bound(self.hi.len()) + self.rho * (1.0 + 2.0 * U);
        (0..out[0].len())
            .map(|k| Dw {
                hi: out[0][k],
                lo: out[1][k],
                err: kb * out[2][k]
                    + if self.eta > 0.0 {
                        self.eta * col_abs[k]
                    } else {
                        0.0
                    },
            })
            .collect()
    }
}

/// The middle tier's arithmetic: double words ([`Dw`]) as in the first tier, but with
/// dot products through [`dot_rows_fine`] (about `4n³u³` of their magnitude instead of
/// [`dot_bound`]'s `2⁻⁹⁵`), each rounded into a double word by two `AccurateDWPlusDW`
/// additions (`2·2⁻¹⁰¹` of the sum). The logits, and with them every coefficient, gain
/// several bits over the first tier at the cost of one finer product per sample.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fine(pub Dw);

impl Encl for Fine {
    const WP: u32 = 192;

    fn exact(v: f64) -> Fine {
        Fine(Dw::exact(v))
    }
    fn add(&self, o: &Fine) -> Fine {
        Fine(self.0 + o.0)
    }
    fn sub(&self, o: &Fine) -> Fine {
        Fine(self.0 - o.0)
    }
    fn mul(&self, o: &Fine) -> Fine {
        Fine(self.0 * o.0)
    }
    fn scale(&self, v: f64) -> Fine {
        Fine(self.0 * v)
    }
    fn neg(&self) -> Fine {
        Fine(-self.0)
    }
    fn of_ival(iv: &Ival) -> Option<Fine> {
        Dw::from_ival(iv).map(Fine)
    }
    fn ival(&self) -> Ival {
        self.0.ival()
    }
    fn exp_nonpos(&self) -> Option<Fine> {
        Dw::exp_nonpos(self.0).map(Fine)
    }
    fn key(&self) -> f64 {
        self.0.hi
    }
    fn dots(q: &[f64], rows: &[f64], width: usize) -> Vec<Fine> {
        let mut out = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        dot_rows_fine(q, rows, width, &mut out);
        let bound = dot_bound_fine(q.len());
        (0..width)
            .map(|k| {
                let sum = Dw::exact(out[0][k]) + Dw::exact(out[1][k]) + Dw::exact(out[2][k]);
                let loop_err = bound * out[3][k] * (1.0 + 1.0 / (1u64 << 30) as f64);
                Fine(Dw {
                    err: sum.err + loop_err,
                    ..sum
                })
            })
            .collect()
    }
}

/// A ball `mid ± rad`: an MPFR midpoint at [`Ball::WP`] bits and a 53-bit MPFR radius
/// rounded up (MPFR's exponent range: no underflow, whatever the magnitude), the second
/// tier's arithmetic — one operation at the working precision per step, where an interval
/// takes two. Each step's radius is the propagated one plus `2^{1−p}·|mid|` for rounding
/// the midpoint.
#[derive(Clone, Debug)]
pub(super) struct Ball {
    mid: Float,
    rad: Float,
}

/// Radii's precision.
const RP: u32 = 53;

/// `v` rounded up to a radius.
fn up<T>(v: T) -> Float
where
    Float: rug::Assign<T> + rug::ops::AssignRound<T, Round = Round, Ordering = std::cmp::Ordering>,
{
    Float::with_val_round(RP, v, Round::Up).0
}

impl Ball {
    /// `|mid|` rounded up.
    fn mag(&self) -> Float {
        up(self.mid.abs_ref())
    }

    /// A ball around the freshly rounded `mid`, with the propagated radius `rad`.
    fn around(mid: Float, rad: Float) -> Ball {
        let rounding = up(up(mid.abs_ref()) >> (Self::WP - 1));
        Ball {
            rad: up(&rad + &rounding),
            mid,
        }
    }

    /// `|a|·rb + |b|·ra + ra·rb`, rounded up: the propagated radius of a product.
    fn product_rad(&self, o: &Ball) -> Float {
        let t1 = up(&self.mag() * &o.rad);
        let t2 = up(&o.mag() * &self.rad);
        let t3 = up(&self.rad * &o.rad);
        up(&up(&t1 + &t2) + &t3)
    }
}

impl Encl for Ball {
    const WP: u32 = 128;

    fn exact(v: f64) -> Ball {
        Ball {
            mid: Float::with_val(Self::WP, v),
            rad: Float::new(RP),
        }
    }
    fn add(&self, o: &Ball) -> Ball {
        Ball::around(
            Float::with_val(Self::WP, &self.mid + &o.mid),
            up(&self.rad + &o.rad),
        )
    }
    fn sub(&self, o: &Ball) -> Ball {
        Ball::around(
            Float::with_val(Self::WP, &self.mid - &o.mid),
            up(&self.rad + &o.rad),
        )
    }
    fn mul(&self, o: &Ball) -> Ball {
        Ball::around(
            Float::with_val(Self::WP, &self.mid * &o.mid),
            self.product_rad(o),
        )
    }
    fn scale(&self, v: f64) -> Ball {
        Ball::around(
            Float::with_val(Self::WP, &self.mid * v),
            up(&self.rad * v.abs()),
        )
    }
    fn neg(&self) -> Ball {
        Ball {
            mid: Float::with_val(Self::WP, -&self.mid),
            rad: self.rad.clone(),
        }
    }
    fn of_ival(iv: &Ival) -> Option<Ball> {
        let mid = iv.mid_at(Self::WP);
        let rad = up(iv.hi() - &mid).max(&up(&mid - iv.lo()));
        Some(Ball::around(mid, rad))
    }
    fn ival(&self) -> Ival {
        let lo = Float::with_val_round(Self::WP, &self.mid - &self.rad, Round::Down).0;
        let hi = Float::with_val_round(Self::WP, &self.mid + &self.rad, Round::Up).0;
        Ival::new(lo, hi).expect("ordered finite endpoints")
    }
    /// `e^x ∈ e^mid·[e^{−rad}, e^{rad}]`, so the radius is `e^mid·(e^rad − 1)` plus the
    /// rounding, with `e^r − 1 ≤ r·(1 + r)` for `r ≤ 1` and `e^mid ≤ |m̃|·(1 + 2^{1−p})` for
    /// the rounded `m̃`.
    fn exp_nonpos(&self) -> Option<Ball> {
        if self.rad > 1.0 / (1u64 << 20) as f64 || self.mid > 1 {
            return None;
        }
        let mid = Float::with_val(Self::WP, self.mid.exp_ref());
        let grow = up(&self.rad * &up(&self.rad + 1u32));
        let m = up(mid.abs_ref());
        let e_mid = up(&m + &up(&m >> (Self::WP - 1)));
        Some(Ball::around(mid, up(&e_mid * &grow)))
    }
    fn key(&self) -> f64 {
        self.mid.to_f64()
    }
    fn dots(q: &[f64], rows: &[f64], width: usize) -> Vec<Ball> {
        let mut out = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        dot_rows_fine(q, rows, width, &mut out);
        let bound = dot_bound_fine(q.len());
        (0..width)
            .map(|k| {
                let parts = [out[0][k], out[1][k], out[2][k]].map(|v| Float::with_val(53, v));
                let mid = Float::with_val(Self::WP, Float::sum(parts.iter()));
                // The bound times the f64 sum of magnitudes, inflated as arith::dw does.
                let err = bound * out[3][k] * (1.0 + 1.0 / (1u64 << 30) as f64);
                Ball::around(mid, up(err))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `true` when the ball's interval contains `x`.
    fn holds(b: &Ball, x: &Float) -> bool {
        let iv = b.ival();
        iv.lo() <= x && x <= iv.hi()
    }

    /// Chains of ball operations against the same chain at 600 bits: the balls contain
    /// the values, including midpoints far below the f64 range (e^-800).
    #[test]
    fn balls_contain_their_values() {
        let p = 600;
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut draw = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        for _ in 0..200 {
            let (a, b) = (draw() * 10.0, draw());
            let (ba, bb) = (Ball::exact(a), Ball::exact(b));
            let (fa, fb) = (Float::with_val(p, a), Float::with_val(p, b));
            let sum = ba.add(&bb).mul(&bb).scale(3.0).sub(&ba);
            let want = Float::with_val(p, &fa + &fb) * &fb * 3u32 - &fa;
            assert!(holds(&sum, &want), "{sum:?} vs {want}");
            let t = Ball::exact(-(a.abs() * 80.0)).add(&bb.scale(1e-3));
            let exp = t.exp_nonpos().unwrap();
            let want =
                (Float::with_val(p, -(a.abs() * 80.0)) + Float::with_val(p, &fb * 1e-3)).exp();
            assert!(holds(&exp, &want), "{exp:?} vs {want}");
            let twice = exp.mul(&exp).exp_nonpos().unwrap();
            assert!(holds(&twice, &Float::with_val(p, &want * &want).exp()));
        }
        let q = [1e8, -1e8 * (1.0 + f64::EPSILON), 3.0];
        let rows = [1.0, 1.0, 1e-9];
        let d = Ball::dots(&q, &rows, 1).pop().unwrap();
        let want: Float = q
            .iter()
            .zip(&rows)
            .map(|(&a, &b)| Float::with_val(p, a) * b)
            .fold(Float::new(p), |s, t| s + t);
        assert!(holds(&d, &want), "{d:?} vs {want}");
        let f = Fine::dots(&q, &rows, 1).pop().unwrap();
        let iv = f.ival();
        assert!(iv.lo() <= &want && &want <= iv.hi(), "{f:?} vs {want}");
    }

    /// Fine dot products of long random rows contain the exact sums, and are far
    /// narrower than the first tier's; pairwise sums of them contain the exact total.
    #[test]
    fn fine_dots_and_pairwise_sums_contain_their_values() {
        let p = 600;
        let mut units = crate::arith::testing::unit_f32s(0x0bad_5eed_1234_5678);
        let mut draw = || units.next().expect("endless");
        let (n, width) = (512, 7);
        let q: Vec<f64> = (0..n).map(|_| draw()).collect();
        let rows: Vec<f64> = (0..n * width).map(|_| draw()).collect();
        let fine = Fine::dots(&q, &rows, width);
        let first = <Dw as Encl>::dots(&q, &rows, width);
        let mut total = Float::new(p);
        for k in 0..width {
            let want = (0..n)
                .map(|i| Float::with_val(p, q[i]) * rows[i * width + k])
                .fold(Float::new(p), |s, t| s + t);
            let iv = fine[k].ival();
            assert!(iv.lo() <= &want && &want <= iv.hi(), "column {k}");
            assert!(fine[k].0.err * 64.0 < first[k].err, "column {k}: not finer");
            total += want;
        }
        let sum = pairwise(&fine).ival();
        assert!(sum.lo() <= &total && &total <= sum.hi());
    }
}
