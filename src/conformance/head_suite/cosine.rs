//! Cosine batches for a loss kernel on cosines: the heads that take cosines
//! ([`takes_cosines`]: `Kind::LOSS` outside `Kind::FEATURES`), in format `T`, with the
//! oracle's exact input ([`CosineLossBatch::input`]). `vectors --op loss --head K`
//! writes these batches (version 4 lines) and the Rust suite
//! ([`check_cosine_loss`](super::check_cosine_loss)) runs a kernel on them.
//!
//! The states are the head suite's ([`head_states`]): batch `i` takes state `i` (round
//! robin); AdaFace and MagFace, whose state is per sample, spread their norms and
//! magnitudes over the rows (MagFace: the states of one fallback per batch, alternating;
//! every other pair of batches with the kinks `a = l_a`, `u_a` moved to their neighbours
//! in the format, where the gradient exists). SphereFace2 has the fixed parameters
//! [`sphereface2_params`] (`r = 40`, `b = −8`, `α = 0.7`, `lw = 50`), MagFace the
//! regularizer weight [`MAGFACE_LAMBDA_G`] `= 35`.
//!
//! The cosines are the head suite's inputs of the row's head ([`head_cases`]: `c = ±1`,
//! `0`, `±½`, the fallback boundary, SphereFace's branch thresholds, AdaFace's angle
//! clamp, CurricularFace's hard-example boundary `cos(θ_y + m)`, sweeps, random points),
//! taken in order: an even row's target is a case's `c`, an odd row's target the case's
//! `c_y` with its `c` the first non-target (so CurricularFace's boundary sits next to its
//! own target); the other cells take the next cases' `c`. A cell within
//! [`HeadPolicy::jump_ulps`] ulps of 1 of a jump whose place is irrational (the linear
//! fallback's `cos(π − m)`, CurricularFace's `cos(θ_y + m)`) is moved just outside that
//! band ([`off_jumps`]). A batch where the gradient is not defined (a slope `±∞` at
//! `c = ±1`, MagFace at the clamp's kinks `a = l_a`, `u_a`) has the loss alone
//! ([`CosineInput::oracle_or_value`]).

use super::{HeadOp, HeadPolicy, head_cases, head_states, jumps};
use crate::Error;
use crate::conformance::GenConfig;
use crate::conformance::kernel::FloatFormat;
use crate::conformance::loss_suite::{CosineBatch, CosineInput};
use crate::head::family::Head;
use crate::head::sphereface2::Params;
use crate::head::{Fallback, Kind, Semantics};
use crate::loss::family::FamilySpec;
use crate::names::Name;
use rug::Rational;

/// MagFace's regularizer weight `λ_g` on the cosine batches (MagFace's default).
pub const MAGFACE_LAMBDA_G: u32 = 35;

/// SphereFace2's bias on the cosine batches: a dyadic state (opensphere learns `b`; its
/// initial value depends on `C` and is irrational).
pub const SPHEREFACE2_BIAS: i64 = -8;

/// SphereFace2's parameters on the cosine batches for the head state `(t, m)`: opensphere's
/// defaults `r = 40`, `α = 0.7`, `lw = 50` and the bias [`SPHEREFACE2_BIAS`].
pub fn sphereface2_params(t: u32, m: &Rational) -> Params {
    Params {
        t,
        m: m.clone(),
        r: Rational::from(40),
        b: Rational::from(SPHEREFACE2_BIAS),
        alpha: Rational::from((7, 10)),
        lw: Rational::from(50),
    }
}

/// Whether `kind` has cosine batches (a head on cosines, outside `Kind::FEATURES`).
pub fn takes_cosines(kind: Kind) -> bool {
    Kind::LOSS.contains(&kind) && !Kind::FEATURES.contains(&kind)
}

/// What to generate: `count` batches of `n` rows and `classes` classes.
#[derive(Clone, Debug, PartialEq)]
pub struct CosineOptions {
    /// The number of batches.
    pub count: usize,
    /// Rows per batch, `N`.
    pub n: usize,
    /// Classes, `C`.
    pub classes: usize,
    /// The seed of the head suite's random cases.
    pub seed: u64,
    /// The softmax heads' logit scale `s` (rounded to the format; SphereFace2's is `r`).
    pub scale: f64,
    /// How the logits are differentiated.
    pub semantics: Semantics,
}

impl CosineOptions {
    /// The Rust suite's batches under `semantics`: 24 batches of `N = 3`, `C = 5`,
    /// `s = 64`, from `seed`.
    pub fn suite(seed: u64, semantics: Semantics) -> CosineOptions {
        CosineOptions {
            count: 24,
            n: 3,
            classes: 5,
            seed,
            scale: 64.0,
            semantics,
        }
    }
}

/// One cosine batch in format `T` (module docs): the inputs of a loss kernel on cosines.
#[derive(Clone, Debug, PartialEq)]
pub struct CosineLossBatch<T> {
    /// The head.
    pub kind: Kind,
    /// The batch's index in its generation.
    pub index: usize,
    /// The cosines `c_nj`, `N × C`.
    pub cos: Vec<Vec<T>>,
    /// The labels.
    pub y: Vec<usize>,
    /// The head of each row: its parameters and that sample's state (AdaFace's norm,
    /// MagFace's magnitude, as values of `T`; SphereFace2's `t`, `m`, margin type).
    pub heads: Vec<Head>,
    /// The softmax heads' logit scale `s` (not used by SphereFace2, whose scale is `r`).
    pub scale: T,
    /// How the logits are differentiated.
    pub semantics: Semantics,
    /// MagFace's regularizer weight `λ_g` (0 for the other heads).
    pub lambda_g: T,
    /// SphereFace2's parameters (`None` for the softmax heads).
    pub sphereface2: Option<Params>,
    /// Where the batch comes from.
    pub origin: String,
}

/// The exact value of a `T`.
fn exact<T: FloatFormat>(t: T) -> Rational {
    Rational::from_f64(t.to_f64()).expect("a finite value of the format")
}

impl<T: FloatFormat> CosineLossBatch<T> {
    /// The cosines as exact rationals.
    pub fn exact_cos(&self) -> Vec<Vec<Rational>> {
        self.cos
            .iter()
            .map(|r| r.iter().map(|&t| exact(t)).collect())
            .collect()
    }

    /// The oracle's exact input ([`CosineInput`]).
    pub fn input(&self) -> CosineInput {
        match (&self.sphereface2, self.heads.first()) {
            (Some(p), Some(Head::SphereFace2 { margin, .. })) => CosineInput::SphereFace2 {
                p: p.clone(),
                margin: *margin,
                cos: self.exact_cos(),
                y: self.y.clone(),
                semantics: self.semantics,
            },
            _ => CosineInput::Softmax(FamilySpec {
                cos: self.exact_cos(),
                y: self.y.clone(),
                heads: self.heads.clone(),
                scale: exact(self.scale),
                semantics: self.semantics,
                lambda_g: exact(self.lambda_g),
            }),
        }
    }

    /// The batch as the cosine tolerance reads it.
    pub fn tolerance_batch(&self) -> CosineBatch {
        self.input().batch()
    }
}

/// The nearest `T` of `v` as an exact rational.
fn in_format<T: FloatFormat>(v: &Rational) -> Rational {
    exact(T::from_f64(crate::arith::ziv::round_rational(v, T::FORMAT)))
}

/// The heads of batch `i` (one per row, `n` rows) of `kind`, per-sample states rounded
/// to `T` (module docs).
fn batch_heads<T: FloatFormat>(kind: Kind, i: usize, n: usize) -> Vec<Head> {
    let states = head_states(kind);
    let pick = |group: &[Head], r: usize| group[(i + r) % group.len()].clone();
    match kind {
        Kind::AdaFace => (0..n)
            .map(|r| match pick(&states, r) {
                Head::AdaFace(mut a) => {
                    a.norm = in_format::<T>(&a.norm);
                    Head::AdaFace(a)
                }
                h => h,
            })
            .collect(),
        Kind::MagFace => {
            let fallback = [Fallback::Easy, Fallback::Linear][i % 2];
            let group: Vec<Head> = states
                .into_iter()
                .filter(|h| matches!(h, Head::MagFace(m) if m.fallback == fallback))
                .collect();
            // Every other pair of batches moves the magnitudes at the clamp's kinks
            // (`a = l_a`, `u_a`: no gradient) to their neighbours in the format, alternately
            // above and below: gradients on both sides of each kink.
            let off_kink = (i / 2) % 2 == 1;
            (0..n)
                .map(|r| match pick(&group, r) {
                    Head::MagFace(mut mf) if off_kink && (mf.a == mf.l_a || mf.a == mf.u_a) => {
                        let (fmt, a) = (T::FORMAT, mf.a.to_f64());
                        let moved = if r % 2 == 0 {
                            fmt.next_up(a)
                        } else {
                            -fmt.next_up(-a)
                        };
                        mf.a = Rational::from_f64(moved).expect("finite");
                        Head::MagFace(mf)
                    }
                    h => h,
                })
                .collect()
        }
        _ => vec![states[i % states.len()].clone(); n],
    }
}

/// The cosines and labels of batch `i`: rows of the head suite's cases ([`head_cases`],
/// module docs).
fn batch_cosines<T: FloatFormat>(
    heads: &[Head],
    o: &CosineOptions,
    i: usize,
) -> (Vec<Vec<T>>, Vec<usize>) {
    let cfg = GenConfig {
        neighbours: 2,
        sweep: 8,
        random: 8,
        seed: o.seed,
    };
    let c = o.classes;
    let mut cos = Vec::with_capacity(heads.len());
    let mut y = Vec::with_capacity(heads.len());
    for (r, h) in heads.iter().enumerate() {
        let cases = head_cases::<T>(h, &cfg);
        let at = |k: usize| &cases[k % cases.len()];
        let first = (i * heads.len() + r) * c;
        let label = (i + r) % c;
        let mut row: Vec<T> = (0..c).map(|j| at(first + j).c).collect();
        if r % 2 == 1 && c > 1 {
            let case = at(first);
            let other = (label + 1) % c;
            row[other] = case.c;
            row[label] = case.c_y;
        } else {
            row.swap(0, label);
        }
        row[label] = off_jumps(h, row[label], row[label], true);
        let c_y = row[label];
        for (j, cell) in row.iter_mut().enumerate() {
            if j != label {
                *cell = off_jumps(h, *cell, c_y, false);
            }
        }
        cos.push(row);
        y.push(label);
    }
    (cos, y)
}

/// `c` moved out of the band of [`HeadPolicy::jump_ulps`] ulps of 1 (absolute: a
/// threshold such as CurricularFace's `c_y·cos m − sin θ_y·sin m` is a difference of terms
/// up to 1, whose rounding error is an absolute one) around each jump of the head's logit
/// (target or not) whose place is irrational ([`jumps`]): to one ulp of 1 beyond the band,
/// on its side. In the band a float implementation's rounded threshold may pick either
/// side of the definition, which a whole-batch loss cannot accept both of; just outside it
/// is the hardest place where the side is decided.
pub fn off_jumps<T: FloatFormat>(head: &Head, c: T, c_y: T, target: bool) -> T {
    let op = if target {
        HeadOp::Target
    } else {
        HeadOp::NonTarget
    };
    let ulp1 = T::FORMAT.next_up(1.0) - 1.0;
    let band = f64::from(HeadPolicy::default().jump_ulps) * ulp1;
    let mut v = c.to_f64();
    for jump in jumps(head, op) {
        let Some(at) = jump.at(head, c_y).map(|a| a.to_f64()) else {
            continue;
        };
        if (v - at).abs() <= band {
            let side = if v >= at { 1.0 } else { -1.0 };
            v = T::from_f64(at + side * (band + ulp1))
                .to_f64()
                .clamp(-1.0, 1.0);
        }
    }
    T::from_f64(v)
}

/// Batch `i` of `kind` under `o` in format `T` (module docs); an [`Error::Domain`] for a
/// head that does not take cosines (a features head: [`super::head_batches`]).
pub fn cosine_batch<T: FloatFormat>(
    kind: Kind,
    o: &CosineOptions,
    i: usize,
) -> Result<CosineLossBatch<T>, Error> {
    if !takes_cosines(kind) {
        return Err(Error::Domain {
            arg: "head",
            value: kind.name().into(),
            expected: "a head on cosines (sphereface, sphereface_r, sphereface2, \
                       curricularface, adaface, magface)",
        });
    }
    let heads = batch_heads::<T>(kind, i, o.n);
    let (cos, y) = batch_cosines::<T>(&heads, o, i);
    let sphereface2 = match heads.first() {
        Some(Head::SphereFace2 { t, m, .. }) => Some(sphereface2_params(*t, m)),
        _ => None,
    };
    let lambda_g = if kind == Kind::MagFace {
        MAGFACE_LAMBDA_G
    } else {
        0
    };
    Ok(CosineLossBatch {
        kind,
        index: i,
        cos,
        y,
        heads,
        scale: T::from_f64(o.scale),
        semantics: o.semantics,
        lambda_g: T::from_f64(f64::from(lambda_g)),
        sphereface2,
        origin: format!(
            "head suite states and cases, batch {i}, N={} C={}",
            o.n, o.classes
        ),
    })
}

/// The `o.count` batches of `kind` under `o` in format `T`, in order ([`cosine_batch`]).
pub fn cosine_batches<T: FloatFormat>(
    kind: Kind,
    o: &CosineOptions,
) -> Result<Vec<CosineLossBatch<T>>, Error> {
    (0..o.count).map(|i| cosine_batch(kind, o, i)).collect()
}
