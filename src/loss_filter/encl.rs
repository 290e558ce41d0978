//! The two tiers' arithmetic behind one trait, so that the softmax of a sample
//! ([`super::softmax`]) is written once: [`Dw`] (double words with a running bound, the
//! first tier) and [`Ival`] (MPFR intervals at 128 bits over dot products kept to about
//! `4n³u³`, the second).

use crate::arith::Ival;
use crate::arith::dw::{Dw, dot_bound, dot_bound_fine, dot_rows, dot_rows_fine, enclose};
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
        let zeros = vec![0.0; q.len()];
        let mut out = [Vec::new(), Vec::new(), Vec::new()];
        dot_rows(q, &zeros, rows, width, &mut out);
        let bound = dot_bound(q.len());
        (0..width)
            .map(|k| Dw {
                hi: out[0][k],
                lo: out[1][k],
                err: bound * out[2][k],
            })
            .collect()
    }
}

impl Encl for Ival {
    const WP: u32 = 128;

    fn exact(v: f64) -> Ival {
        Ival::point(Float::with_val(53, v))
    }
    fn add(&self, o: &Ival) -> Ival {
        Ival::add(self, o)
    }
    fn sub(&self, o: &Ival) -> Ival {
        Ival::sub(self, o)
    }
    fn mul(&self, o: &Ival) -> Ival {
        Ival::mul(self, o)
    }
    fn scale(&self, v: f64) -> Ival {
        Ival::mul(self, &Ival::exact(v))
    }
    fn neg(&self) -> Ival {
        Ival::neg(self)
    }
    fn of_ival(iv: &Ival) -> Option<Ival> {
        Some(iv.clone())
    }
    fn ival(&self) -> Ival {
        self.clone()
    }
    /// One exponential: `e^lo` rounded down, and `e^hi ≤ e^lo·(1 + 2^{1−p})·(1 + w + w²)`
    /// for the width `w = hi − lo ≤ 1` (`e^w ≤ 1 + w + w²` there).
    fn exp_nonpos(&self) -> Option<Ival> {
        let p = self.prec();
        let lo = Float::with_val_round(p, self.lo().exp_ref(), Round::Down).0;
        let w = Float::with_val_round(p, self.hi() - self.lo(), Round::Up).0;
        if w > 1 {
            return Some(self.exp());
        }
        // Every bound below is rounded up.
        let w2 = Float::with_val_round(p, w.square_ref(), Round::Up).0;
        let sum = Float::with_val_round(p, &w + &w2, Round::Up).0;
        let grow = Float::with_val_round(p, &sum + 1u32, Round::Up).0;
        let ulp = Float::with_val(p, 1u32) >> (p - 1); // 2^(1−p), exact
        let one_ulp = Float::with_val(p, &ulp + 1u32); // exact at p bits
        let factor = Float::with_val_round(p, &grow * &one_ulp, Round::Up).0;
        let hi = Float::with_val_round(p, &lo * &factor, Round::Up).0;
        Ival::new(lo, hi)
    }
    fn key(&self) -> f64 {
        self.lo().to_f64()
    }
    fn dots(q: &[f64], rows: &[f64], width: usize) -> Vec<Ival> {
        let mut out = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        dot_rows_fine(q, rows, width, &mut out);
        let bound = dot_bound_fine(q.len());
        (0..width)
            .map(|k| {
                enclose(
                    &[out[0][k], out[1][k], out[2][k]],
                    bound * out[3][k],
                    Self::WP,
                )
            })
            .collect()
    }
}
