//! The published float formulas of the heads with running state — CurricularFace, AdaFace,
//! MagFace — each written from its project's source with its clamps and constants, the
//! state (CurricularFace's `t`, AdaFace's norm and batch statistics, MagFace's magnitude)
//! held as the tensors' values after the batch's update.
//!
//! | formula | source | target logit as computed |
//! | --- | --- | --- |
//! | `curricularface` | HuangYG123/CurricularFace `head/metrics.py`, `CurricularFace.forward`, `m = 0.5` | `c·cos m − √(1 − c²)·sin m` if `c > th` else `c − mm` (`th = cos(π − m)`, `mm = sin(π − m)·m`); non-target `c·(t + c)` where `c > cos(θ_y + m)` (that same float expression at `c_y`) |
//! | `adaface`, `-low-norm`, `-norm-clip` | mk-minchul/AdaFace `head.py`, `AdaFace.forward`, `m = 0.4`, `h = 0.333`, `eps = 1e−3` | `cos(clip(acos(clamp(c, −1 + eps, 1 − eps)) − m·ŝ, eps, π − eps)) − (m + m·ŝ)`, `ŝ = clip((clip(‖x‖, 0.001, 100) − mean)/(std + eps)·h, −1, 1)`; non-target the same angle clip with no shift |
//! | `magface-easy`, `-linear` | IrvingMeng/MagFace `models/magface.py`, `MagLinear.forward` and `SoftmaxBuilder._margin`, `l_a = 10`, `u_a = 110`, `l_m = 0.45`, `u_m = 0.8` | `m = (u_m − l_m)/(u_a − l_a)·(clamp(a, l_a, u_a) − l_a) + l_m` in the dtype, then `c·cos m − √(1 − c²)·sin m` where `c > 0` else `c` (easy, `MagLinear`'s default), or `c > cos(π − m)` else `c − sin(π − m)·m` |
//!
//! What the sources do that the definitions ([`crate::head::family`]) do not: AdaFace
//! clamps the cosine to `±(1 − 10⁻³)` and the angle to `[10⁻³, π − 10⁻³]` for every class
//! (so non-target logits are moved too) and clips the norm to `[0.001, 100]` before the
//! margin scaler; CurricularFace and MagFace (linear) round the fallback threshold
//! `cos(π − m)` to the dtype, and CurricularFace's hard-example mask compares with
//! `cos(θ_y + m)` computed in the dtype.

use super::super::float::{ZooFloat, torch_clamp};
use super::{HeadFormula, dec, q};
use crate::head::Fallback;
use crate::head::family::{AdaFace as AdaDef, Head, MagFace as MagDef};
use rug::Rational;

/// `x·cos m − √(1 − x²)·sin m` with `torch.pow(x, 2) = x·x` (CurricularFace's and
/// MagFace's `cos_theta_m`, the ArcFace target through the sine).
fn cos_plus<T: ZooFloat>(x: T, cos_m: T, sin_m: T) -> T {
    let sine = (T::int(1) - x * x).sqrt();
    x * cos_m - sine * sin_m
}

/// CurricularFace (HuangYG123/CurricularFace `head/metrics.py`, `CurricularFace`,
/// `m = 0.5`) with its buffer `t` after the batch's update. The audit evaluates the
/// non-target logits of a sample whose target cosine is `c_y`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurricularFace {
    /// The buffer `t` (a value of every format).
    pub t: f64,
    /// The sample's target cosine for the audit's non-target row.
    pub c_y: f64,
}

impl CurricularFace {
    /// The audited state: `t = 0.375`, `c_y = 0.75`.
    pub const AUDIT: CurricularFace = CurricularFace {
        t: 0.375,
        c_y: 0.75,
    };
    const M: f64 = 0.5;

    /// `cos_theta_m`: `target_logit * cos_m − sin_theta * sin_m` with `math.cos(m)`,
    /// `math.sin(m)` rounded to the dtype.
    fn cos_theta_m<T: ZooFloat>(c_y: T) -> T {
        cos_plus(c_y, T::lit(Self::M.cos()), T::lit(Self::M.sin()))
    }

    /// The update `t ← mean(c_y)·0.01 + (1 − 0.01)·t` (`target_logit.mean() * 0.01 +
    /// (1 - 0.01) * self.t`, the mean as a left-to-right sum divided by the count; the
    /// oracle's is [`crate::head::family::curricular_next_t`]).
    pub fn next_t<T: ZooFloat>(t: T, target_cosines: &[T]) -> T {
        let sum = target_cosines.iter().fold(T::int(0), |s, &c| s + c);
        let mean = sum / T::int(target_cosines.len() as i64);
        mean * T::lit(0.01) + T::lit(1.0 - 0.01) * t
    }
}

impl<T: ZooFloat> HeadFormula<T> for CurricularFace {
    fn name(&self) -> &'static str {
        "curricularface"
    }
    fn source(&self) -> &'static str {
        "CurricularFace head/metrics.py CurricularFace.forward, m = 0.5"
    }
    fn head(&self) -> Head {
        Head::CurricularFace {
            m: dec(1, 2),
            t: q(self.t),
        }
    }
    fn target(&self, c: T) -> T {
        let (m, pi) = (Self::M, std::f64::consts::PI);
        let c = torch_clamp(c, T::int(-1), T::int(1));
        if c > T::lit((pi - m).cos()) {
            Self::cos_theta_m(c)
        } else {
            c - T::lit((pi - m).sin() * m)
        }
    }
    fn nontarget(&self, c: T) -> T {
        self.nontarget_at(c, T::from_f64(self.c_y))
    }
    fn nontarget_at(&self, c: T, c_y: T) -> T {
        let c = torch_clamp(c, T::int(-1), T::int(1));
        let c_y = torch_clamp(c_y, T::int(-1), T::int(1));
        // mask = cos_theta > cos_theta_m; cos_theta[mask] = hard * (t + hard).
        if c > Self::cos_theta_m(c_y) {
            c * (T::from_f64(self.t) + c)
        } else {
            c
        }
    }
    fn audit_target_cosine(&self) -> Option<f64> {
        Some(self.c_y)
    }
    fn marks(&self) -> Vec<f64> {
        let theta_y = self.c_y.acos();
        vec![
            (std::f64::consts::PI - Self::M).cos(),
            (theta_y + Self::M).cos(),
        ]
    }
}

/// AdaFace (mk-minchul/AdaFace `head.py`, `AdaFace.forward`, `m = 0.4`, `h = 0.333`,
/// `eps = 1e−3`) at a sample's feature norm with the batch statistics after the update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaFace {
    /// The name in reports.
    pub name: &'static str,
    /// The sample's feature norm `‖x‖` (a value of every format).
    pub norm: f64,
    /// `batch_mean`.
    pub mean: f64,
    /// `batch_std`.
    pub std: f64,
}

impl AdaFace {
    /// `‖x‖ = 30`, mean 20, std 10: `ŝ = 0.333·10/10.001`, the angle shifted down.
    pub const TYPICAL: AdaFace = AdaFace {
        name: "adaface",
        norm: 30.0,
        mean: 20.0,
        std: 10.0,
    };
    /// `‖x‖ = 10`, mean 20, std 10: `ŝ < 0`, the angle shifted up (towards the clip at π).
    pub const LOW_NORM: AdaFace = AdaFace {
        name: "adaface-low-norm",
        norm: 10.0,
        mean: 20.0,
        std: 10.0,
    };
    /// `‖x‖ = 150`, mean 100, std 50: the norm clip to 100 makes `ŝ = 0` where the
    /// definition has `ŝ = 0.333·50/50.001`.
    pub const NORM_CLIP: AdaFace = AdaFace {
        name: "adaface-norm-clip",
        norm: 150.0,
        mean: 100.0,
        std: 50.0,
    };
    /// The three audited states.
    pub const ALL: [AdaFace; 3] = [AdaFace::TYPICAL, AdaFace::LOW_NORM, AdaFace::NORM_CLIP];
    const M: f64 = 0.4;
    const H: f64 = 0.333;
    const EPS: f64 = 1e-3;

    /// `margin_scaler`: `clip((safe_norms − batch_mean)/(batch_std + eps)·h, −1, 1)` with
    /// `safe_norms = clip(norms, 0.001, 100)`.
    fn scaler<T: ZooFloat>(&self) -> T {
        let safe = torch_clamp(T::from_f64(self.norm), T::lit(0.001), T::int(100));
        let s = (safe - T::from_f64(self.mean)) / (T::from_f64(self.std) + T::lit(Self::EPS));
        torch_clamp(s * T::lit(Self::H), T::int(-1), T::int(1))
    }

    /// `cos(clip(acos(clamp(c, −1 + eps, 1 − eps)) + shift, eps, π − eps))`.
    fn shifted_cos<T: ZooFloat>(c: T, shift: T) -> T {
        let e = Self::EPS;
        let theta = torch_clamp(c, T::lit(-1.0 + e), T::lit(1.0 - e)).acos();
        let pi_eps = T::lit(std::f64::consts::PI - e);
        torch_clamp(theta + shift, T::lit(e), pi_eps).cos()
    }
}

impl<T: ZooFloat> HeadFormula<T> for AdaFace {
    fn name(&self) -> &'static str {
        self.name
    }
    fn source(&self) -> &'static str {
        match self.name {
            "adaface-low-norm" => "AdaFace head.py AdaFace.forward, norm 10, mean 20, std 10",
            "adaface-norm-clip" => "AdaFace head.py AdaFace.forward, norm 150, mean 100, std 50",
            _ => "AdaFace head.py AdaFace.forward, m = 0.4, h = 0.333, norm 30, mean 20, std 10",
        }
    }
    fn head(&self) -> Head {
        Head::AdaFace(AdaDef {
            m: dec(2, 5),
            h: dec(333, 1000),
            eps: dec(1, 1000),
            norm: q(self.norm),
            mean: q(self.mean),
            std: q(self.std),
        })
    }
    fn target(&self, c: T) -> T {
        let s = self.scaler::<T>();
        let m = T::lit(Self::M);
        // g_angular = m * margin_scaler * -1; g_add = m + m * margin_scaler.
        let g_angular = m * s * T::int(-1);
        Self::shifted_cos(c, T::int(1) * g_angular) - T::int(1) * (m + m * s)
    }
    fn nontarget(&self, c: T) -> T {
        let s = self.scaler::<T>();
        let m = T::lit(Self::M);
        let g_angular = m * s * T::int(-1);
        Self::shifted_cos(c, T::int(0) * g_angular) - T::int(0) * (m + m * s)
    }
    fn marks(&self) -> Vec<f64> {
        let e = Self::EPS;
        let mut v = vec![1.0 - e, -1.0 + e];
        // Where θ − m·ŝ meets the angle clip (ŝ of the definition, in f64).
        if let Ok(s) = self.head_scaler() {
            let a = -Self::M * s;
            v.extend([(e - a).cos(), (std::f64::consts::PI - e - a).cos(), a.cos()]);
        }
        v
    }
}

impl AdaFace {
    /// The definition's `ŝ` as an `f64` (for the audit's marks).
    fn head_scaler(&self) -> Result<f64, crate::Error> {
        match <Self as HeadFormula<f64>>::head(self) {
            Head::AdaFace(a) => a.scaler().map(|s| s.to_f64()),
            _ => unreachable!("an AdaFace head"),
        }
    }
}

/// MagFace (IrvingMeng/MagFace `models/magface.py`: `MagLinear.forward` with the margin
/// function `SoftmaxBuilder._margin`; `l_a = 10`, `u_a = 110`, `l_m = 0.45`, `u_m = 0.8`)
/// at a feature magnitude.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MagFace {
    /// The name in reports.
    pub name: &'static str,
    /// The feature magnitude `a = ‖x‖` (a value of every format).
    pub a: f64,
    /// `easy_margin` (`MagLinear`'s default, `True`, which `SoftmaxBuilder` keeps).
    pub easy: bool,
}

impl MagFace {
    /// `a = 60` (margin 0.625), the shipped easy margin.
    pub const EASY: MagFace = MagFace {
        name: "magface-easy",
        a: 60.0,
        easy: true,
    };
    /// `a = 150` (clamped to `u_a = 110`: margin 0.8), `easy_margin = False`.
    pub const LINEAR: MagFace = MagFace {
        name: "magface-linear",
        a: 150.0,
        easy: false,
    };
    /// Both audited forms.
    pub const ALL: [MagFace; 2] = [MagFace::EASY, MagFace::LINEAR];
    const L_A: f64 = 10.0;
    const U_A: f64 = 110.0;
    const L_M: f64 = 0.45;
    const U_M: f64 = 0.8;

    /// `ada_margin = (u_m − l_m)/(u_a − l_a)·(x_norm − l_a) + l_m` with
    /// `x_norm = clamp(a, l_a, u_a)` (the Python quotient in double, rounded to the dtype).
    pub fn margin<T: ZooFloat>(&self) -> T {
        let x = torch_clamp(T::from_f64(self.a), T::lit(Self::L_A), T::lit(Self::U_A));
        let slope = (Self::U_M - Self::L_M) / (Self::U_A - Self::L_A);
        T::lit(slope) * (x - T::lit(Self::L_A)) + T::lit(Self::L_M)
    }
}

impl<T: ZooFloat> HeadFormula<T> for MagFace {
    fn name(&self) -> &'static str {
        self.name
    }
    fn source(&self) -> &'static str {
        if self.easy {
            "MagFace models/magface.py MagLinear (easy_margin), a = 60"
        } else {
            "MagFace models/magface.py MagLinear (easy_margin = False), a = 150"
        }
    }
    fn head(&self) -> Head {
        Head::MagFace(MagDef {
            l_a: Rational::from(10),
            u_a: Rational::from(110),
            l_m: dec(45, 100),
            u_m: dec(4, 5),
            a: q(self.a),
            fallback: if self.easy {
                Fallback::Easy
            } else {
                Fallback::Linear
            },
        })
    }
    fn target(&self, c: T) -> T {
        let m = self.margin::<T>();
        let c = torch_clamp(c, T::int(-1), T::int(1));
        let ctm = cos_plus(c, m.cos(), m.sin());
        let out = if self.easy {
            if c > T::int(0) { ctm } else { c }
        } else {
            let pi = T::lit(std::f64::consts::PI);
            let (threshold, mm) = ((pi - m).cos(), (pi - m).sin() * m);
            if c > threshold { ctm } else { c - mm }
        };
        // one_hot * cos_theta_m + (1 − one_hot) * cos_theta
        T::int(1) * out + T::int(0) * c
    }
    fn nontarget(&self, c: T) -> T {
        let c = torch_clamp(c, T::int(-1), T::int(1));
        let m = self.margin::<T>();
        T::int(0) * cos_plus(c, m.cos(), m.sin()) + T::int(1) * c
    }
    fn marks(&self) -> Vec<f64> {
        let m: f64 = self.margin();
        vec![0.0, (std::f64::consts::PI - m).cos()]
    }
}
