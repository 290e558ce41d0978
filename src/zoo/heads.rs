//! The margin family's published float formulas: how opensphere, insightface and
//! pytorch-metric-learning compute the target and non-target logits (divided by the
//! scale), each written once from its source, clamps and literals included, generic over
//! [`ZooFloat`]; [`HeadFormula::head`] is the oracle's definition it is judged against
//! (`audit::head_table`).
//!
//! | formula | source | target logit as computed |
//! | --- | --- | --- |
//! | `opensphere-sphereface` | `model/head/sphereface.py`, `m = 1.5` | `c + (ψ(acos(clamp(c, ±(1−1e−5))))·… − c)`, `k = ⌊mθ/π⌋` |
//! | `opensphere-arcface` | `arcface.py`, `m = 0.5` | `c + (cos(clamp(θ + m, 1e−5, 3.14159)) − c)` |
//! | `opensphere-cosface` | `cosface.py`, `m = 0.35` | `c + (−m)` |
//! | `opensphere-sphereface-r-v1` | `spherefacer.py` `v1`, `m = 1.5` | `c + (cos(clamp(mθ, 1e−5, 3.14159)) − c)` |
//! | `opensphere-sphereface-r-v2` | `spherefacer.py` `v2`, `m = 1.5` | `c + (cos(mθ/m) − c)`; non-target `cos(θ/m)` |
//! | `opensphere-sphereface2-c` | `sphereface2.py` `C`, `t = 3`, `m = 0.4` | `c + ((2((c+1)/2)^3 − 1 − m) − c)` |
//! | `insightface-combined` | `arcface_torch/losses.py` `CombinedMarginLoss`, `m2 = 0.5` | `cos(acos(clamp(c, −1, 1)) + m)` |
//! | `insightface-combined-fp16` | the same after `partial_fc`'s fp16 cosine | the same at `c` rounded to binary16 |
//! | `insightface-arcface-linear` | `arcface_torch` before 2022 (`ArcFace`, `th`, `mm`) | `c·cos m − √(1 − c²)·sin m` if `c > cos(π − m)` else `c − sin(π − m)·m` |
//! | `insightface-mxnet-arcface` | `recognition/train.py` (MXNet), `s = 64` | the same through `zy = s·c`, `cos_t = zy/s`, `zy − s·mm` |
//! | `pml-arcface` | `ArcFaceLoss`, margin 28.6° | `c + (cos(acos(clamp(c, ±(1−1e−7))) + radians(28.6)) − c)` |
//! | `pml-cosface` | `CosFaceLoss`, margin 0.35 | `c + ((c − m) − c)` |
//!
//! The heads with running state (CurricularFace, AdaFace, MagFace) are in [`stateful`]
//! (`curricularface`, `adaface`, `adaface-low-norm`, `adaface-norm-clip`, `magface-easy`,
//! `magface-linear`), listed by [`all_heads`] after these.
//!
//! Non-target logits: opensphere's SphereFace, ArcFace and SphereFace-R also pass them
//! through `cos(clamp(acos(clamp(c, ±(1−1e−5))), 1e−5, 3.14159))` (their `d_theta` is
//! computed for every class), and insightface's `CombinedMarginLoss` through
//! `cos(acos(c))`; the others leave them `c` (`c + 0`). Every Python constant is a double
//! rounded to the tensor's dtype ([`crate::conformance::kernel::KernelFloat::lit`]).

use super::float::{ZooFloat, torch_clamp};
use crate::arith::F16;
use crate::conformance::head_suite::HeadKernel;
use crate::head::family::{Head, RVersion};
use crate::head::sphereface2::Margin;
use crate::head::{Combined, Fallback};
use rug::Rational;

pub mod stateful;
pub use stateful::{AdaFace, CurricularFace, MagFace};

/// A published head's float formula (module docs).
pub trait HeadFormula<T: ZooFloat> {
    /// The name in reports.
    fn name(&self) -> &'static str;
    /// Where it is published.
    fn source(&self) -> &'static str;
    /// The oracle's definition it is judged against.
    fn head(&self) -> Head;
    /// The target logit (divided by the scale) at the cosine `c`.
    fn target(&self, c: T) -> T;
    /// A non-target logit (divided by the scale) at the cosine `c`.
    fn nontarget(&self, c: T) -> T;
    /// A non-target logit at `c` in a sample whose target cosine is `c_y` (only
    /// CurricularFace's depends on `c_y`); default [`HeadFormula::nontarget`].
    fn nontarget_at(&self, c: T, c_y: T) -> T {
        let _ = c_y;
        self.nontarget(c)
    }
    /// The target cosine `c_y` the audit's non-target row is computed for; `None` (the
    /// default): the non-target logit does not depend on it.
    fn audit_target_cosine(&self) -> Option<f64> {
        None
    }
    /// Cosines (as `f64`) where this formula branches or clamps beyond the audit's common
    /// marks (`audit::heads::head_inputs`); the audit adds each with its neighbours.
    fn marks(&self) -> Vec<f64> {
        Vec::new()
    }
}

fn q(v: f64) -> Rational {
    Rational::from_f64(v).expect("finite")
}

fn dec(num: i64, den: i64) -> Rational {
    Rational::from((num, den))
}

/// opensphere's upper clamp of an angle, `3.14159` (below π by 2.65·10⁻⁶).
#[allow(clippy::approx_constant)]
pub const OPENSPHERE_PI: f64 = 3.14159;

/// opensphere's `acos(cos_theta.clamp(-1.+1e-5, 1.-1e-5))`.
fn os_theta<T: ZooFloat>(c: T) -> T {
    torch_clamp(c, T::lit(-1.0 + 1e-5), T::lit(1.0 - 1e-5)).acos()
}

/// opensphere's `theta.clamp_(1e-5, 3.14159)` then `cos`.
fn os_clamped_cos<T: ZooFloat>(theta: T) -> T {
    torch_clamp(theta, T::lit(1e-5), T::lit(OPENSPHERE_PI)).cos()
}

/// `cos_theta + d_theta` with `d_theta = v − cos_theta` (the detached margin term).
fn plus_detached<T: ZooFloat>(c: T, v: T) -> T {
    c + (v - c)
}

/// The opensphere heads (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenSphere {
    /// `sphereface.py`, `m = 1.5`.
    SphereFace,
    /// `arcface.py`, `m = 0.5`.
    ArcFace,
    /// `cosface.py`, `m = 0.35`.
    CosFace,
    /// `spherefacer.py`, `magn_type = 'v1'`, `m = 1.5`.
    SphereFaceRV1,
    /// `spherefacer.py`, `magn_type = 'v2'`, `m = 1.5`.
    SphereFaceRV2,
    /// `sphereface2.py`, `magn_type = 'C'`, `t = 3`, `m = 0.4`.
    SphereFace2,
}

impl OpenSphere {
    /// Every opensphere formula.
    pub const ALL: [OpenSphere; 6] = [
        OpenSphere::SphereFace,
        OpenSphere::ArcFace,
        OpenSphere::CosFace,
        OpenSphere::SphereFaceRV1,
        OpenSphere::SphereFaceRV2,
        OpenSphere::SphereFace2,
    ];

    /// ψ as `sign * cos(m_theta) - 2. * k`, `sign = -2 * remainder(k, 2) + 1`.
    fn psi<T: ZooFloat>(mt: T) -> T {
        let k = (mt / T::lit(std::f64::consts::PI)).floor();
        let two = T::int(2);
        let rem = k - two * (k / two).floor();
        let sign = -two * rem + T::int(1);
        sign * mt.cos() - two * k
    }

    /// SphereFace2's `2. * ((c + 1.) / 2.).pow(3) - 1.`.
    fn g<T: ZooFloat>(c: T) -> T {
        let x = (c + T::int(1)) / T::int(2);
        T::int(2) * (x * x * x) - T::int(1)
    }
}

impl<T: ZooFloat> HeadFormula<T> for OpenSphere {
    fn name(&self) -> &'static str {
        match self {
            OpenSphere::SphereFace => "opensphere-sphereface",
            OpenSphere::ArcFace => "opensphere-arcface",
            OpenSphere::CosFace => "opensphere-cosface",
            OpenSphere::SphereFaceRV1 => "opensphere-sphereface-r-v1",
            OpenSphere::SphereFaceRV2 => "opensphere-sphereface-r-v2",
            OpenSphere::SphereFace2 => "opensphere-sphereface2-c",
        }
    }
    fn source(&self) -> &'static str {
        match self {
            OpenSphere::SphereFace => "opensphere sphereface.py, m = 1.5",
            OpenSphere::ArcFace => "opensphere arcface.py, m = 0.5",
            OpenSphere::CosFace => "opensphere cosface.py, m = 0.35",
            OpenSphere::SphereFaceRV1 => "opensphere spherefacer.py v1, m = 1.5",
            OpenSphere::SphereFaceRV2 => "opensphere spherefacer.py v2, m = 1.5",
            OpenSphere::SphereFace2 => "opensphere sphereface2.py C, t = 3, m = 0.4",
        }
    }
    fn head(&self) -> Head {
        let r = |version| Head::SphereFaceR {
            m: dec(3, 2),
            version,
        };
        match self {
            OpenSphere::SphereFace => Head::SphereFace { m: dec(3, 2) },
            OpenSphere::ArcFace => Head::Combined(Combined::arcface(dec(1, 2), Fallback::ClampPi)),
            OpenSphere::CosFace => Head::Combined(Combined::cosface(dec(7, 20))),
            OpenSphere::SphereFaceRV1 => r(RVersion::V1),
            OpenSphere::SphereFaceRV2 => r(RVersion::V2),
            OpenSphere::SphereFace2 => Head::SphereFace2 {
                t: 3,
                m: dec(2, 5),
                margin: Margin::C,
            },
        }
    }
    fn target(&self, c: T) -> T {
        let m = T::lit(1.5);
        match self {
            // d_theta = zeros.scatter_(…, −m, reduce='add'): c + (0 + (−m)).
            OpenSphere::CosFace => c + (T::int(0) + -T::lit(0.35)),
            OpenSphere::SphereFace => plus_detached(c, Self::psi(os_theta(c) * m)),
            OpenSphere::ArcFace => plus_detached(c, os_clamped_cos(os_theta(c) + T::lit(0.5))),
            OpenSphere::SphereFaceRV1 => plus_detached(c, os_clamped_cos(os_theta(c) * m)),
            OpenSphere::SphereFaceRV2 => plus_detached(c, ((os_theta(c) * m) / m).cos()),
            // g − m·(2·one_hot − 1) with one_hot = 1.
            OpenSphere::SphereFace2 => plus_detached(c, Self::g(c) - T::lit(0.4) * T::int(1)),
        }
    }
    fn nontarget(&self, c: T) -> T {
        let v = match self {
            OpenSphere::SphereFace => Self::psi(os_theta(c)),
            OpenSphere::ArcFace | OpenSphere::SphereFaceRV1 => os_clamped_cos(os_theta(c)),
            OpenSphere::CosFace => return c + T::int(0),
            OpenSphere::SphereFaceRV2 => (os_theta(c) / T::lit(1.5)).cos(),
            // − m·(2·0 − 1)
            OpenSphere::SphereFace2 => Self::g(c) - T::lit(0.4) * T::int(-1),
        };
        plus_detached(c, v)
    }
}

/// The insightface heads (module docs), ArcFace margin 0.5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsightFace {
    /// `arcface_torch` `CombinedMarginLoss(m1 = 1, m2 = 0.5, m3 = 0)`, float32 cosine.
    Combined,
    /// The same with `partial_fc`'s fp16 cosine (`autocast`, then `.float()`).
    CombinedFp16,
    /// `arcface_torch` `ArcFace` before 2022: the linear fallback through `√(1 − c²)`.
    ArcFaceLinear,
    /// The MXNet `train.py` ArcFace (`loss_type = 4`), `s = 64`.
    MxnetArcFace,
}

impl InsightFace {
    /// Every insightface formula.
    pub const ALL: [InsightFace; 4] = [
        InsightFace::Combined,
        InsightFace::CombinedFp16,
        InsightFace::ArcFaceLinear,
        InsightFace::MxnetArcFace,
    ];
    const M: f64 = 0.5;

    /// The cosine as `partial_fc` hands it over: binary16 for fp16, then `.clamp(-1, 1)`.
    fn input<T: ZooFloat>(self, c: T) -> T {
        let c = if self == InsightFace::CombinedFp16 {
            T::from_f64(F16::from_f64(c.to_f64()).to_f64())
        } else {
            c
        };
        torch_clamp(c, T::int(-1), T::int(1))
    }

    /// `cosine * cos_m − sine * sin_m` with `sine = sqrt(1 − cosine²)`.
    fn arc<T: ZooFloat>(cos_t: T) -> T {
        let sine = (T::int(1) - cos_t * cos_t).sqrt();
        cos_t * T::lit(Self::M.cos()) - sine * T::lit(Self::M.sin())
    }
}

impl<T: ZooFloat> HeadFormula<T> for InsightFace {
    fn name(&self) -> &'static str {
        match self {
            InsightFace::Combined => "insightface-combined",
            InsightFace::CombinedFp16 => "insightface-combined-fp16",
            InsightFace::ArcFaceLinear => "insightface-arcface-linear",
            InsightFace::MxnetArcFace => "insightface-mxnet-arcface",
        }
    }
    fn source(&self) -> &'static str {
        match self {
            InsightFace::Combined => "arcface_torch losses.py CombinedMarginLoss, m2 = 0.5",
            InsightFace::CombinedFp16 => "the same, fp16 cosine (partial_fc autocast)",
            InsightFace::ArcFaceLinear => "arcface_torch ArcFace before 2022, m = 0.5",
            InsightFace::MxnetArcFace => "recognition train.py (MXNet), m = 0.5, s = 64",
        }
    }
    fn head(&self) -> Head {
        let fallback = match self {
            InsightFace::Combined | InsightFace::CombinedFp16 => Fallback::None,
            InsightFace::ArcFaceLinear | InsightFace::MxnetArcFace => Fallback::Linear,
        };
        Head::Combined(Combined::arcface(dec(1, 2), fallback))
    }
    fn target(&self, c: T) -> T {
        let (m, pi) = (Self::M, std::f64::consts::PI);
        let th = T::lit((pi - m).cos());
        let mm = (pi - m).sin() * m;
        match self {
            InsightFace::Combined | InsightFace::CombinedFp16 => {
                (self.input(c).acos() + T::lit(m)).cos()
            }
            InsightFace::ArcFaceLinear => {
                if c > th {
                    Self::arc(c)
                } else {
                    c - T::lit(mm)
                }
            }
            InsightFace::MxnetArcFace => {
                let s = T::int(64);
                let zy = c * s;
                let cos_t = zy / s;
                let new_zy = Self::arc(cos_t) * s;
                // relu(cos_t − threshold) as the condition; zy − s·mm (s·mm in Python).
                let out = if cos_t - th > T::int(0) {
                    new_zy
                } else {
                    zy - T::lit(64.0 * mm)
                };
                out / s
            }
        }
    }
    fn nontarget(&self, c: T) -> T {
        match self {
            InsightFace::Combined | InsightFace::CombinedFp16 => self.input(c).acos().cos(),
            InsightFace::ArcFaceLinear => c,
            InsightFace::MxnetArcFace => (c * T::int(64)) / T::int(64),
        }
    }
}

/// pytorch-metric-learning's ArcFaceLoss and CosFaceLoss (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pml {
    /// `ArcFaceLoss(margin = 28.6)`: degrees, `np.radians`, clamp `±(1 − 1e−7)`.
    ArcFace,
    /// `CosFaceLoss(margin = 0.35)`.
    CosFace,
}

impl Pml {
    /// Both formulas.
    pub const ALL: [Pml; 2] = [Pml::ArcFace, Pml::CosFace];

    /// `np.radians(28.6)`: the double the oracle takes as the margin (within 2⁻⁵⁴ of 28.6°).
    pub fn arcface_margin() -> f64 {
        28.6f64.to_radians()
    }
}

impl<T: ZooFloat> HeadFormula<T> for Pml {
    fn name(&self) -> &'static str {
        match self {
            Pml::ArcFace => "pml-arcface",
            Pml::CosFace => "pml-cosface",
        }
    }
    fn source(&self) -> &'static str {
        match self {
            Pml::ArcFace => "pytorch-metric-learning ArcFaceLoss, margin 28.6 (degrees)",
            Pml::CosFace => "pytorch-metric-learning CosFaceLoss, margin 0.35",
        }
    }
    fn head(&self) -> Head {
        Head::Combined(match self {
            Pml::ArcFace => Combined::arcface(q(Self::arcface_margin()), Fallback::None),
            Pml::CosFace => Combined::cosface(dec(7, 20)),
        })
    }
    fn target(&self, c: T) -> T {
        let v = match self {
            Pml::ArcFace => {
                let eps = 1e-7;
                let theta = torch_clamp(c, T::lit(-1.0 + eps), T::lit(1.0 - eps)).acos();
                (theta + T::lit(Self::arcface_margin())).cos()
            }
            Pml::CosFace => c - T::lit(0.35),
        };
        // cosine + mask * (modified − cosine)
        c + T::int(1) * (v - c)
    }
    fn nontarget(&self, c: T) -> T {
        c + T::int(0) * c
    }
}

/// Every head formula, in a fixed order.
pub fn all_heads<T: ZooFloat>() -> Vec<Box<dyn HeadFormula<T>>> {
    let mut v: Vec<Box<dyn HeadFormula<T>>> = Vec::new();
    v.extend(OpenSphere::ALL.map(|h| Box::new(h) as Box<dyn HeadFormula<T>>));
    v.extend(InsightFace::ALL.map(|h| Box::new(h) as Box<dyn HeadFormula<T>>));
    v.extend(Pml::ALL.map(|h| Box::new(h) as Box<dyn HeadFormula<T>>));
    v.push(Box::new(CurricularFace::AUDIT));
    v.extend(AdaFace::ALL.map(|h| Box::new(h) as Box<dyn HeadFormula<T>>));
    v.extend(MagFace::ALL.map(|h| Box::new(h) as Box<dyn HeadFormula<T>>));
    v
}

/// Every head formula is a conformance [`HeadKernel`] (each type and `dyn HeadFormula`):
/// the head suite ([`crate::conformance::head_suite`]) judges it against
/// [`HeadFormula::head`], its non-target logit through [`HeadFormula::nontarget_at`].
macro_rules! head_kernel {
    ($($t:ty),*) => {
        $(
            impl<T: ZooFloat> HeadKernel<T> for $t {
                fn name(&self) -> String {
                    HeadFormula::<T>::name(self).to_string()
                }
                fn head(&self) -> Head {
                    HeadFormula::<T>::head(self)
                }
                fn target(&self, c: T) -> T {
                    HeadFormula::target(self, c)
                }
                fn nontarget(&self, c: T, c_y: T) -> T {
                    self.nontarget_at(c, c_y)
                }
            }
        )*
    };
}
head_kernel!(
    dyn HeadFormula<T> + '_,
    OpenSphere,
    InsightFace,
    Pml,
    CurricularFace,
    AdaFace,
    MagFace
);
