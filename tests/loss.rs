//! Tests of the loss oracle (`asoftmax_spec::loss`): against an independent plain-f64
//! implementation, against high-precision central differences of the loss enclosure,
//! exact special values, large logits, and every rejected input.

use asoftmax_spec::Error;
use asoftmax_spec::arith::rational_from_f64;
use asoftmax_spec::loss::{
    Backward, LambdaSchedule, LossOutput, LossSpec, Variant, lambda, loss, loss_enclosure,
};
use rug::{Float, Rational};
use std::f64::consts::PI;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [−1, 1), a dyadic f64.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

fn q(v: f64) -> Rational {
    rational_from_f64(v).unwrap()
}

fn qi(v: i64) -> Rational {
    Rational::from(v)
}

fn qm(rows: &[Vec<f64>]) -> Vec<Vec<Rational>> {
    rows.iter()
        .map(|r| r.iter().map(|&v| q(v)).collect())
        .collect()
}

fn qmi(rows: &[&[i64]]) -> Vec<Vec<Rational>> {
    rows.iter()
        .map(|r| r.iter().map(|&v| qi(v)).collect())
        .collect()
}

fn rand_matrix(rng: &mut Rng, rows: usize, cols: usize) -> Vec<Vec<f64>> {
    (0..rows)
        .map(|_| (0..cols).map(|_| rng.unit()).collect())
        .collect()
}

fn f64s(m: &[Vec<asoftmax_spec::arith::Approx>]) -> Vec<Vec<f64>> {
    m.iter()
        .map(|r| r.iter().map(|a| a.f64()).collect())
        .collect()
}

fn max_abs(m: &[Vec<f64>]) -> f64 {
    m.iter().flatten().fold(0.0f64, |a, &b| a.max(b.abs()))
}

// ---------------------------------------------------------------------------
// An independent plain-f64 implementation (written from the notes' formulas).
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Params {
    m: f64,
    m_int: Option<u32>,
    lambda: f64,
    s: f64,
    lsoftmax: bool,
    detached: bool,
}

fn dotf(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| u * v).sum()
}

/// ψ(c) and dψ/dc in f64.
fn psi_ref(p: &Params, c: f64) -> (f64, f64) {
    if let Some(m) = p.m_int {
        let mut k = 0u32;
        for j in 1..m {
            if c < (f64::from(j) * PI / f64::from(m)).cos() {
                k += 1;
            }
        }
        // T_m by the recurrence, U_{m−1} likewise.
        let (mut t_prev, mut t) = (1.0, c);
        for _ in 1..m {
            let t_next = 2.0 * c * t - t_prev;
            t_prev = t;
            t = t_next;
        }
        let (mut u_prev, mut u) = (1.0, 2.0 * c);
        let u_m1 = if m == 1 {
            1.0
        } else {
            for _ in 2..m {
                let u_next = 2.0 * c * u - u_prev;
                u_prev = u;
                u = u_next;
            }
            u
        };
        let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
        (sign * t - 2.0 * f64::from(k), sign * f64::from(m) * u_m1)
    } else {
        let th = c.clamp(-1.0, 1.0).acos();
        let kmax = p.m.ceil() as u32 - 1;
        let k = ((p.m * th / PI).floor() as u32).min(kmax);
        let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
        let psi = sign * (p.m * th).cos() - 2.0 * f64::from(k);
        let dth = -sign * p.m * (p.m * th).sin();
        (psi, dth / (-th.sin()))
    }
}

struct RefOut {
    loss: f64,
    gx: Vec<Vec<f64>>,
    gw: Vec<Vec<f64>>,
    /// The frozen margin offsets f_y − (plain target logit), per sample.
    offsets: Vec<f64>,
}

/// Plain f64 A-/L-Softmax loss and gradients. `offsets_in`: when given, the target
/// logit is the plain logit plus that frozen constant (the "detached" loss as a function).
fn reference(
    x: &[Vec<f64>],
    w: &[Vec<f64>],
    y: &[usize],
    p: &Params,
    offsets_in: Option<&[f64]>,
) -> RefOut {
    let (nn, cc, d) = (x.len(), w.len(), x[0].len());
    let mut gx = vec![vec![0.0; d]; nn];
    let mut gw = vec![vec![0.0; d]; cc];
    let mut total = 0.0;
    let mut offsets = vec![0.0; nn];
    for n in 0..nn {
        let xv = &x[n];
        let r = dotf(xv, xv).sqrt();
        let mut f = vec![0.0; cc];
        let mut dfx = vec![vec![0.0; d]; cc];
        let mut dfw = vec![vec![0.0; d]; cc];
        for j in 0..cc {
            let wv = &w[j];
            let nu = dotf(wv, wv).sqrt();
            let target = j == y[n];
            if nu == 0.0 {
                // L-Softmax zero row (plain logit s·W·x = 0).
                assert!(p.lsoftmax && (!target || p.detached || p.m == 1.0));
                dfw[j] = xv.iter().map(|v| p.s * v).collect();
                continue;
            }
            let what: Vec<f64> = wv.iter().map(|v| v / nu).collect();
            let wx = dotf(&what, xv);
            let c = wx / r;
            let proj: Vec<f64> = xv.iter().zip(&what).map(|(a, b)| a - wx * b).collect();
            let kappa = if p.lsoftmax { nu } else { 1.0 };
            let margin = target && p.m != 1.0;
            let (h, dh) = if margin {
                let (ps, dps) = psi_ref(p, c);
                (
                    (p.lambda * c + ps) / (1.0 + p.lambda),
                    (p.lambda + dps) / (1.0 + p.lambda),
                )
            } else {
                (c, 1.0)
            };
            f[j] = p.s * kappa * r * h;
            if target {
                offsets[n] = f[j] - p.s * kappa * r * c;
                if let Some(o) = offsets_in {
                    f[j] = p.s * kappa * r * c + o[n];
                }
            }
            let (hb, dhb) = if (p.detached || offsets_in.is_some()) && target {
                (c, 1.0)
            } else {
                (h, dh)
            };
            // g = r·h(c): ∂g/∂x = h′ŵ + (h − c h′)x/r, ∂g/∂W = h′·P/ν.
            let gxx: Vec<f64> = (0..d)
                .map(|k| dhb * what[k] + (hb - c * dhb) * xv[k] / r)
                .collect();
            let gww: Vec<f64> = proj.iter().map(|v| dhb * v / nu).collect();
            if p.lsoftmax {
                // F = s·ν·g: ∂F/∂x = sν∂g/∂x, ∂F/∂W = s(g ŵ + ν ∂g/∂W).
                dfx[j] = gxx.iter().map(|v| p.s * nu * v).collect();
                dfw[j] = (0..d)
                    .map(|k| p.s * (r * hb * what[k] + nu * gww[k]))
                    .collect();
            } else {
                dfx[j] = gxx.iter().map(|v| p.s * v).collect();
                dfw[j] = gww.iter().map(|v| p.s * v).collect();
            }
        }
        let fy = f[y[n]];
        let fmax = f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = f.iter().map(|v| (v - fmax).exp()).sum();
        let l = if fmax == fy {
            f.iter()
                .enumerate()
                .filter(|&(j, _)| j != y[n])
                .map(|(_, v)| (v - fy).exp())
                .sum::<f64>()
                .ln_1p()
        } else {
            (fmax - fy) + z.ln()
        };
        total += l;
        // p_y − 1 = −Σ_{j≠y} p_j (no cancellation when p_y ≈ 1).
        let others: f64 = (0..cc)
            .filter(|&j| j != y[n])
            .map(|j| (f[j] - fmax).exp() / z)
            .sum();
        for j in 0..cc {
            let a = if j == y[n] {
                -others
            } else {
                (f[j] - fmax).exp() / z
            };
            for k in 0..d {
                gx[n][k] += a * dfx[j][k] / nn as f64;
                gw[j][k] += a * dfw[j][k] / nn as f64;
            }
        }
    }
    RefOut {
        loss: total / nn as f64,
        gx,
        gw,
        offsets,
    }
}

#[allow(clippy::too_many_arguments)] // a test helper mirroring the LossSpec fields
fn spec_of(
    x: &[Vec<f64>],
    w: &[Vec<f64>],
    y: &[usize],
    m: &Rational,
    lam: i64,
    s: i64,
    v: Variant,
    b: Backward,
) -> LossSpec {
    let mut spec = LossSpec::new(qm(x), qm(w), y.to_vec(), m.clone());
    spec.lambda = qi(lam);
    spec.scale = qi(s);
    spec.variant = v;
    spec.backward = b;
    spec
}

fn params(m: &Rational, lam: i64, s: i64, v: Variant, b: Backward) -> Params {
    Params {
        m: m.to_f64(),
        m_int: (*m.denom() == 1).then(|| m.numer().to_u32().unwrap()),
        lambda: lam as f64,
        s: s as f64,
        lsoftmax: v == Variant::LSoftmax,
        detached: b == Backward::DetachedMargin,
    }
}

/// Largest |a − b| / max|b| over a matrix (normalized by the matrix magnitude).
fn matrix_err(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    let scale = max_abs(b).max(1e-300);
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(u, v)| (u - v).abs() / scale)
        .fold(0.0, f64::max)
}

// ---------------------------------------------------------------------------
// Against the f64 reference
// ---------------------------------------------------------------------------

#[test]
fn matches_f64_reference_on_random_batches() {
    let mut rng = Rng(0x5eed_1234);
    let margins = [
        qi(1),
        qi(2),
        qi(3),
        qi(4),
        Rational::from((3, 2)),
        Rational::from((17, 10)),
    ];
    let mut worst_loss = 0.0f64;
    let mut worst_grad = 0.0f64;
    let mut cases = 0;
    for variant in [Variant::ASoftmax, Variant::LSoftmax] {
        for backward in [Backward::Full, Backward::DetachedMargin] {
            for lam in [0i64, 5, 1000] {
                for s in [1i64, 64] {
                    for m in &margins {
                        let nn = 1 + rng.below(3);
                        let cc = 2 + rng.below(4);
                        let d = 3 + rng.below(3);
                        let x = rand_matrix(&mut rng, nn, d);
                        let w = rand_matrix(&mut rng, cc, d);
                        let y: Vec<usize> = (0..nn).map(|_| rng.below(cc)).collect();
                        let spec = spec_of(&x, &w, &y, m, lam, s, variant, backward);
                        let out = loss(&spec, true, 53).unwrap();
                        let r = reference(&x, &w, &y, &params(m, lam, s, variant, backward), None);
                        let el = (out.loss.f64() - r.loss).abs() / r.loss.abs();
                        let eg = matrix_err(&f64s(&out.grad_x.unwrap()), &r.gx)
                            .max(matrix_err(&f64s(&out.grad_w.unwrap()), &r.gw));
                        assert!(
                            el < 1e-12 && eg < 1e-12,
                            "{variant:?} {backward:?} λ={lam} s={s} m={m}: loss err {el:e}, grad err {eg:e}"
                        );
                        worst_loss = worst_loss.max(el);
                        worst_grad = worst_grad.max(eg);
                        cases += 1;
                    }
                }
            }
        }
    }
    eprintln!(
        "{cases} cases: worst relative loss error {worst_loss:e}, worst normalized gradient error {worst_grad:e}"
    );
}

#[test]
fn f32_and_f64_are_correctly_rounded_from_the_enclosure() {
    let mut rng = Rng(77);
    let x = rand_matrix(&mut rng, 2, 4);
    let w = rand_matrix(&mut rng, 3, 4);
    let spec = spec_of(
        &x,
        &w,
        &[0, 2],
        &qi(4),
        5,
        64,
        Variant::ASoftmax,
        Backward::Full,
    );
    let out = loss(&spec, true, 256).unwrap();
    let check = |a: &asoftmax_spec::arith::Approx| {
        let lo = a.enclosure().lo();
        let hi = a.enclosure().hi();
        assert_eq!(Float::with_val(53, lo).to_f64(), a.f64());
        assert_eq!(Float::with_val(53, hi).to_f64(), a.f64());
        assert_eq!(Float::with_val(24, lo).to_f32(), a.f32());
        // The enclosure is 256-bit tight (or an exact point).
        assert!(a.is_exact() || a.enclosure().width() <= a.enclosure().mig() >> 256u32);
    };
    check(&out.loss);
    out.grad_x
        .iter()
        .chain(out.grad_w.iter())
        .flatten()
        .flatten()
        .for_each(check);
}

// ---------------------------------------------------------------------------
// Against high-precision central differences of the loss enclosure
// ---------------------------------------------------------------------------

fn mid(wp: u32, spec: &LossSpec) -> Float {
    let iv = loss_enclosure(spec, wp)
        .unwrap()
        .expect("enclosure at high wp");
    Float::with_val(wp, iv.lo() + iv.hi()) / 2u32
}

/// Checks every gradient component against (L(v + h) − L(v − h))/(2h), h = 2^−70,
/// evaluated at 640 bits: the truncation error is O(h²) ≈ 1e−42 (relative to L‴),
/// so agreement to 1e−25 checks the analytic formulas far beyond f64.
fn check_against_central_differences(spec: &LossSpec) {
    let out = loss(spec, true, 128).unwrap();
    let wp = 640;
    let h = Rational::from((1, 1u128 << 70));
    let two_h = Float::with_val(wp, &h) * 2u32;
    let gx = out.grad_x.unwrap();
    let gw = out.grad_w.unwrap();
    let mut worst = 0.0f64;
    for which in 0..2 {
        let rows = if which == 0 {
            spec.x.len()
        } else {
            spec.w.len()
        };
        for i in 0..rows {
            for k in 0..spec.x[0].len() {
                let perturbed = |sign: i32| {
                    let mut s2 = spec.clone();
                    let cell = if which == 0 {
                        &mut s2.x[i][k]
                    } else {
                        &mut s2.w[i][k]
                    };
                    if sign > 0 {
                        *cell += &h;
                    } else {
                        *cell -= &h;
                    }
                    s2
                };
                let fd = (mid(wp, &perturbed(1)) - mid(wp, &perturbed(-1))) / &two_h;
                let g = if which == 0 { &gx[i][k] } else { &gw[i][k] };
                let err = Float::with_val(wp, &fd - &g.mid()).abs().to_f64();
                let tol = 1e-25 * (1.0 + g.f64().abs());
                assert!(
                    err < tol,
                    "{} [{i}][{k}]: analytic {} vs central difference {}",
                    if which == 0 { "grad_x" } else { "grad_w" },
                    g.decimal(),
                    fd
                );
                worst = worst.max(err / (1.0 + g.f64().abs()));
            }
        }
    }
    eprintln!(
        "{:?} m={} λ={} s={}: worst |fd − grad| / (1 + |grad|) = {worst:e}",
        spec.variant, spec.m, spec.lambda, spec.scale
    );
}

#[test]
fn full_gradient_matches_high_precision_central_differences() {
    let mut rng = Rng(4242);
    for variant in [Variant::ASoftmax, Variant::LSoftmax] {
        for (m, lam, s) in [
            (qi(4), 0, 1),
            (qi(4), 5, 64),
            (qi(3), 1000, 1),
            (qi(2), 0, 1),
            (Rational::from((3, 2)), 0, 1),
            (Rational::from((17, 10)), 5, 1),
            (qi(1), 0, 1),
        ] {
            let x = rand_matrix(&mut rng, 2, 3);
            let w = rand_matrix(&mut rng, 3, 3);
            let spec = spec_of(&x, &w, &[1, 2], &m, lam, s, variant, Backward::Full);
            check_against_central_differences(&spec);
        }
    }
}

// ---------------------------------------------------------------------------
// DetachedMargin
// ---------------------------------------------------------------------------

/// The detached gradient is the gradient of the *plain cosine* softmax whose target
/// logit carries the margin as a frozen constant: check by f64 central differences of
/// that frozen loss.
#[test]
fn detached_gradient_is_the_plain_cosine_gradient_with_a_frozen_margin() {
    let mut rng = Rng(99);
    for variant in [Variant::ASoftmax, Variant::LSoftmax] {
        for (m, lam) in [(qi(4), 0), (qi(4), 5), (Rational::from((17, 10)), 0)] {
            let x = rand_matrix(&mut rng, 2, 3);
            let w = rand_matrix(&mut rng, 3, 3);
            let y = [0usize, 2];
            let spec = spec_of(&x, &w, &y, &m, lam, 1, variant, Backward::DetachedMargin);
            let out = loss(&spec, true, 53).unwrap();
            let p = params(&m, lam, 1, variant, Backward::DetachedMargin);
            let base = reference(&x, &w, &y, &p, None);
            let frozen = base.offsets.clone();
            // Central differences of the frozen loss in f64.
            let h = 1e-6;
            let mut fd_x = vec![vec![0.0; 3]; 2];
            let mut fd_w = vec![vec![0.0; 3]; 3];
            for i in 0..2 {
                for k in 0..3 {
                    let mut xp = x.clone();
                    let mut xm = x.clone();
                    xp[i][k] += h;
                    xm[i][k] -= h;
                    fd_x[i][k] = (reference(&xp, &w, &y, &p, Some(&frozen)).loss
                        - reference(&xm, &w, &y, &p, Some(&frozen)).loss)
                        / (2.0 * h);
                }
            }
            for j in 0..3 {
                for k in 0..3 {
                    let mut wp = w.clone();
                    let mut wm = w.clone();
                    wp[j][k] += h;
                    wm[j][k] -= h;
                    fd_w[j][k] = (reference(&x, &wp, &y, &p, Some(&frozen)).loss
                        - reference(&x, &wm, &y, &p, Some(&frozen)).loss)
                        / (2.0 * h);
                }
            }
            let gx = f64s(&out.grad_x.unwrap());
            let gw = f64s(&out.grad_w.unwrap());
            assert!(
                matrix_err(&gx, &fd_x) < 1e-7,
                "{variant:?} m={m}: {gx:?} vs {fd_x:?}"
            );
            assert!(
                matrix_err(&gw, &fd_w) < 1e-7,
                "{variant:?} m={m}: {gw:?} vs {fd_w:?}"
            );
            // The value is the full margin loss.
            let full = loss(
                &spec_of(&x, &w, &y, &m, lam, 1, variant, Backward::Full),
                false,
                53,
            )
            .unwrap();
            assert_eq!(full.loss.f64(), out.loss.f64());
        }
    }
}

/// Where the margin term vanishes (x on the axis of its class: c_y = 1, ψ(1) = 1) the
/// detached margin loss has exactly the plain cosine softmax (m = 1) gradient.
#[test]
fn detached_gradient_equals_plain_softmax_gradient_when_margin_term_vanishes() {
    let w = vec![
        vec![3.0, 0.0, 1.0],
        vec![0.0, 2.0, -1.0],
        vec![1.0, 1.0, 1.0],
    ];
    let x = vec![vec![6.0, 0.0, 2.0], vec![1.0, 1.0, 1.0]];
    let y = [0usize, 2];
    for variant in [Variant::ASoftmax, Variant::LSoftmax] {
        let det = loss(
            &spec_of(&x, &w, &y, &qi(4), 5, 2, variant, Backward::DetachedMargin),
            true,
            64,
        )
        .unwrap();
        let plain = loss(
            &spec_of(&x, &w, &y, &qi(1), 5, 2, variant, Backward::Full),
            true,
            64,
        )
        .unwrap();
        assert_eq!(det.loss.f64(), plain.loss.f64());
        assert_eq!(f64s(&det.grad_x.unwrap()), f64s(&plain.grad_x.unwrap()));
        assert_eq!(f64s(&det.grad_w.unwrap()), f64s(&plain.grad_w.unwrap()));
    }
    // m = 1: Full and DetachedMargin coincide everywhere.
    let mut rng = Rng(5);
    let x = rand_matrix(&mut rng, 2, 4);
    let w = rand_matrix(&mut rng, 3, 4);
    let a = loss(
        &spec_of(
            &x,
            &w,
            &[1, 0],
            &qi(1),
            0,
            1,
            Variant::ASoftmax,
            Backward::Full,
        ),
        true,
        64,
    )
    .unwrap();
    let b = loss(
        &spec_of(
            &x,
            &w,
            &[1, 0],
            &qi(1),
            0,
            1,
            Variant::ASoftmax,
            Backward::DetachedMargin,
        ),
        true,
        64,
    )
    .unwrap();
    assert_eq!(f64s(&a.grad_x.unwrap()), f64s(&b.grad_x.unwrap()));
    assert_eq!(f64s(&a.grad_w.unwrap()), f64s(&b.grad_w.unwrap()));
}

// ---------------------------------------------------------------------------
// Exact and special values
// ---------------------------------------------------------------------------

#[test]
fn one_class_gives_exactly_zero() {
    let mut rng = Rng(1);
    for variant in [Variant::ASoftmax, Variant::LSoftmax] {
        for m in [qi(4), Rational::from((3, 2))] {
            let x = rand_matrix(&mut rng, 3, 4);
            let w = rand_matrix(&mut rng, 1, 4);
            let spec = spec_of(&x, &w, &[0, 0, 0], &m, 5, 64, variant, Backward::Full);
            let out = loss(&spec, true, 53).unwrap();
            assert!(out.loss.is_exact());
            assert_eq!(out.loss.f64(), 0.0);
            assert_eq!(out.loss.decimal(), "0");
            for g in out
                .grad_x
                .unwrap()
                .iter()
                .chain(&out.grad_w.unwrap())
                .flatten()
            {
                assert!(g.is_exact() && g.f64().to_bits() == 0);
            }
        }
    }
}

#[test]
fn zero_feature_gives_ln_c() {
    let w = vec![
        vec![1.0, 2.0, 0.5],
        vec![-1.0, 0.0, 1.0],
        vec![0.25, -3.0, 2.0],
        vec![0.0, 1.0, 1.0],
    ];
    let x = vec![vec![0.0; 3], vec![0.0; 3]];
    let ln4 = Float::with_val(53, 4).ln().to_f64();
    for variant in [Variant::ASoftmax, Variant::LSoftmax] {
        for m in [qi(4), Rational::from((3, 2)), qi(1)] {
            let spec = spec_of(&x, &w, &[2, 0], &m, 5, 64, variant, Backward::Full);
            let out = loss(&spec, false, 53).unwrap();
            assert_eq!(out.loss.f64(), ln4);
            assert!(!out.loss.is_exact());
        }
    }
}

#[test]
fn zero_feature_gradient_exists_only_for_a_linear_target() {
    let w = vec![
        vec![1.0, 2.0, 0.5],
        vec![-1.0, 0.0, 1.0],
        vec![0.25, -3.0, 2.0],
    ];
    let x = vec![vec![0.5, 0.25, -1.0], vec![0.0; 3]];
    let y = [0usize, 1];
    // Full backward with a margin: the x-gradient at x = 0 does not exist.
    let e = loss(
        &spec_of(&x, &w, &y, &qi(4), 0, 1, Variant::ASoftmax, Backward::Full),
        true,
        53,
    )
    .unwrap_err();
    match &e {
        Error::Degenerate { what } => assert!(what.contains("x[1]"), "{what}"),
        other => panic!("expected Degenerate, got {other:?}"),
    }
    assert!(e.to_string().contains("x[1] is the zero vector"));
    // Detached margin / m = 1: the backward target is linear in x; the gradient is
    // (s/N)·Σ_j (1/C − [j = y]) ŵ_j for that sample.
    for (m, b) in [(qi(4), Backward::DetachedMargin), (qi(1), Backward::Full)] {
        for variant in [Variant::ASoftmax, Variant::LSoftmax] {
            let spec = spec_of(&x, &w, &y, &m, 0, 3, variant, b);
            let out = loss(&spec, true, 53).unwrap();
            let gx = f64s(&out.grad_x.unwrap());
            for k in 0..3 {
                let mut expect = 0.0;
                for (j, wj) in w.iter().enumerate() {
                    let nu = if variant == Variant::ASoftmax {
                        dotf(wj, wj).sqrt()
                    } else {
                        1.0
                    };
                    let a = 1.0 / 3.0 - if j == 1 { 1.0 } else { 0.0 };
                    expect += 3.0 / 2.0 * a * wj[k] / nu;
                }
                assert!(
                    (gx[1][k] - expect).abs() < 1e-14,
                    "{variant:?} {b:?} k={k}: {} vs {expect}",
                    gx[1][k]
                );
            }
            let r = reference(&x[..1], &w, &y[..1], &params(&m, 0, 3, variant, b), None);
            // Sample 0's contribution, scaled by N_ref/N = 1/2, plus nothing from x = 0 in W.
            let gw = f64s(&out.grad_w.unwrap());
            let half: Vec<Vec<f64>> =
                r.gw.iter()
                    .map(|row| row.iter().map(|v| v / 2.0).collect())
                    .collect();
            assert!(matrix_err(&gw, &half) < 1e-12);
        }
    }
    // C = 1: the loss is identically 0, so the gradient exists (and is 0) even at x = 0.
    let out = loss(
        &spec_of(
            &x,
            &w[..1],
            &[0, 0],
            &qi(4),
            0,
            1,
            Variant::ASoftmax,
            Backward::Full,
        ),
        true,
        53,
    )
    .unwrap();
    assert!(
        out.grad_x
            .unwrap()
            .iter()
            .flatten()
            .all(|g| g.is_exact() && g.f64() == 0.0)
    );
}

#[test]
fn parallel_feature_gives_exact_zero_weight_gradient() {
    // x_0 = 2·W_1 (c = 1): ∂L/∂W_1 = 0 exactly for A-Softmax (P = 0), for every m.
    let w = vec![vec![1.0, 0.5, -2.0], vec![0.75, 1.0, 1.0]];
    let x = vec![vec![1.5, 2.0, 2.0]];
    for m in [qi(4), Rational::from((3, 2))] {
        for b in [Backward::Full, Backward::DetachedMargin] {
            let out = loss(
                &spec_of(&x, &w, &[1], &m, 5, 64, Variant::ASoftmax, b),
                true,
                53,
            )
            .unwrap();
            let gw = out.grad_w.unwrap();
            assert!(
                gw[1].iter().all(|g| g.is_exact() && g.f64() == 0.0),
                "m={m} {b:?}"
            );
            let r = reference(&x, &w, &[1], &params(&m, 5, 64, Variant::ASoftmax, b), None);
            assert!(matrix_err(&f64s(&out.grad_x.unwrap()), &r.gx) < 1e-12);
            assert!((out.loss.f64() - r.loss).abs() <= 1e-12 * r.loss.abs());
        }
    }
}

#[test]
fn a_softmax_weight_gradient_is_orthogonal_to_the_weights() {
    // A-Softmax is invariant under W_j → t·W_j, so ∂L/∂W_j ⊥ W_j.
    let mut rng = Rng(31);
    let x = rand_matrix(&mut rng, 3, 5);
    let w = rand_matrix(&mut rng, 4, 5);
    let out = loss(
        &spec_of(
            &x,
            &w,
            &[0, 3, 3],
            &qi(4),
            5,
            64,
            Variant::ASoftmax,
            Backward::Full,
        ),
        true,
        200,
    )
    .unwrap();
    for (j, row) in out.grad_w.unwrap().iter().enumerate() {
        let mut acc = Float::with_val(400, 0);
        let mut mag = 0.0f64;
        for (g, wk) in row.iter().zip(&w[j]) {
            acc += g.mid() * Float::with_val(53, *wk);
            mag += (g.f64() * wk).abs();
        }
        assert!(acc.to_f64().abs() < mag * 1e-55, "row {j}: {acc}");
    }
}

#[test]
fn symmetric_cancellation_is_proven_zero() {
    // ŵ_0 = (1,1)/√2, ŵ_1 = (1,−1)/√2, x = (1,0): f_0 = f_1 (proven: equal squares and
    // signs), so p = (1/2, 1/2) exactly and ∂L/∂x[0] = s·(−ŵ_0[0] + ŵ_1[0])/2 = 0: the
    // surds 1/√2 cancel exactly.
    let spec = spec_of(
        &[vec![1.0, 0.0]],
        &[vec![1.0, 1.0], vec![1.0, -1.0]],
        &[0],
        &qi(1),
        0,
        1,
        Variant::ASoftmax,
        Backward::Full,
    );
    let out = loss(&spec, true, 53).unwrap();
    let g = &out.grad_x.unwrap()[0][0];
    assert!(g.is_exact());
    assert_eq!(g.f64().to_bits(), 0);
    assert_eq!(g.decimal(), "0");
    assert_eq!(out.loss.f64(), Float::with_val(53, 2).ln().to_f64());
}

// ---------------------------------------------------------------------------
// Large logits
// ---------------------------------------------------------------------------

#[test]
fn large_logits_stay_finite_and_exact_to_the_last_bit() {
    // s = 64, ‖x‖ = 1e4, W = identity rows: c = (0.6, 0.8, 0).
    let x = qmi(&[&[6000, 8000, 0]]);
    let w = qmi(&[&[1, 0, 0], &[0, 1, 0], &[0, 0, 1]]);
    let mut spec = LossSpec::new(x.clone(), w.clone(), vec![0], qi(4));
    spec.scale = qi(64);
    // m = 4, c_0 = 0.6 < cos(π/4): k = 1, ψ = −T_4(0.6) − 2 = −1.1568.
    // f = (−740352, 512000, 0): ℓ = 1252352 + ln(1 + e^−512000 + e^−1252352).
    let out = loss(&spec, true, 53).unwrap();
    assert_eq!(out.loss.f64(), 1_252_352.0);
    assert!(
        out.loss
            .enclosure()
            .contains(&Float::with_val(64, 1_252_352))
    );
    // Gradient: p ≈ (0, 1, 0) up to e^−512000, so ∂L/∂x ≈ s·(ŵ_1 − ∂g_0/∂x) and every
    // component is finite and matches the f64 reference.
    let xf = vec![vec![6000.0, 8000.0, 0.0]];
    let wf = vec![
        vec![1.0, 0.0, 0.0],
        vec![0.0, 1.0, 0.0],
        vec![0.0, 0.0, 1.0],
    ];
    let r = reference(
        &xf,
        &wf,
        &[0],
        &params(&qi(4), 0, 64, Variant::ASoftmax, Backward::Full),
        None,
    );
    assert_eq!(r.loss, 1_252_352.0);
    let gx = f64s(&out.grad_x.unwrap());
    let gw = f64s(&out.grad_w.unwrap());
    assert!(gx.iter().chain(&gw).flatten().all(|v| v.is_finite()));
    assert!(matrix_err(&gx, &r.gx) < 1e-13, "{gx:?} vs {:?}", r.gx);
    assert!(matrix_err(&gw, &r.gw) < 1e-13, "{gw:?} vs {:?}", r.gw);
    // Analytic: ψ′(0.6) = −m·U_3(0.6) = −4·(8·0.216 − 4·0.6) = 2.688 (k = 1),
    // ∂L/∂x = s·[ŵ_1 − (ψ′ŵ_0 + (ψ − cψ′)x/r)] to within e^−512000.
    let (psi, dpsi) = (-1.1568f64, 2.688f64);
    let xr = [0.6, 0.8, 0.0];
    let expect = [
        64.0 * (0.0 - (dpsi + (psi - 0.6 * dpsi) * xr[0])),
        64.0 * (1.0 - (psi - 0.6 * dpsi) * xr[1]),
        0.0,
    ];
    for k in 0..3 {
        assert!(
            (gx[0][k] - expect[k]).abs() < 1e-12 * 64.0,
            "{k}: {} vs {}",
            gx[0][k],
            expect[k]
        );
    }

    // Target with the largest logit: the loss is ln(1 + e^−640000) ≈ 10^−277949 (far below
    // f64), enclosed with full relative precision — no overflow, no spurious zero.
    let spec = {
        let mut s = LossSpec::new(
            qmi(&[&[10000, 0]]),
            qmi(&[&[1, 0], &[0, 1]]),
            vec![0],
            qi(4),
        );
        s.scale = qi(64);
        s
    };
    let out = loss(&spec, true, 64).unwrap();
    assert_eq!(out.loss.f64(), 0.0);
    assert!(!out.loss.is_exact());
    let exact = Float::with_val(200, -640000).exp();
    let rel = Float::with_val(200, (out.loss.mid() - &exact) / &exact).abs();
    assert!(rel < 1e-19, "{}", out.loss.decimal());
    // 640000/ln 10 = 277948.47…: e^−640000 = 3.4008…e−277949.
    assert!(
        out.loss.decimal().starts_with("3.4008064749300219574")
            && out.loss.decimal().ends_with("e-277949"),
        "{}",
        out.loss.decimal()
    );
    // And the L-Softmax version with the same geometry (‖W‖ = 1) agrees.
    let mut l = spec.clone();
    l.variant = Variant::LSoftmax;
    assert_eq!(
        loss(&l, false, 64).unwrap().loss.decimal(),
        out.loss.decimal()
    );
}

// ---------------------------------------------------------------------------
// L-Softmax specifics
// ---------------------------------------------------------------------------

#[test]
fn l_softmax_zero_row_is_a_zero_logit() {
    let x = vec![vec![0.5, -1.0, 2.0], vec![1.0, 1.0, 0.0]];
    let w = vec![
        vec![1.0, 0.5, 0.0],
        vec![0.0, 0.0, 0.0],
        vec![-1.0, 2.0, 1.0],
    ];
    // W_1 = 0 as a non-target row: fine, value and gradient.
    let y = [0usize, 2];
    for b in [Backward::Full, Backward::DetachedMargin] {
        let spec = spec_of(&x, &w, &y, &qi(4), 5, 2, Variant::LSoftmax, b);
        let out = loss(&spec, true, 53).unwrap();
        let r = reference(
            &x,
            &w,
            &y,
            &params(&qi(4), 5, 2, Variant::LSoftmax, b),
            None,
        );
        assert!((out.loss.f64() - r.loss).abs() <= 1e-13 * r.loss);
        assert!(matrix_err(&f64s(&out.grad_x.unwrap()), &r.gx) < 1e-12);
        assert!(matrix_err(&f64s(&out.grad_w.unwrap()), &r.gw) < 1e-12);
    }
    // W_1 = 0 as the target of sample 1: value by continuity (f_y = 0) …
    let y = [0usize, 1];
    let spec = spec_of(&x, &w, &y, &qi(4), 0, 1, Variant::LSoftmax, Backward::Full);
    let v = loss(&spec, false, 53).unwrap().loss.f64();
    let m1 = loss(
        &spec_of(&x, &w, &y, &qi(1), 0, 1, Variant::LSoftmax, Backward::Full),
        false,
        53,
    )
    .unwrap();
    // (sample 1's target logit is 0 under any m, so only sample 0 differs from m = 1.)
    assert!(v.is_finite() && v != m1.loss.f64());
    // … but no gradient with the full backward …
    match loss(&spec, true, 53).unwrap_err() {
        Error::Degenerate { what } => {
            assert!(what.contains("w[1]") && what.contains("sample 1"), "{what}")
        }
        e => panic!("{e:?}"),
    }
    // … while the detached backward is the linear logit s·W·x.
    let mut det = spec.clone();
    det.backward = Backward::DetachedMargin;
    let out = loss(&det, true, 53).unwrap();
    let r = reference(
        &x,
        &w,
        &y,
        &params(&qi(4), 0, 1, Variant::LSoftmax, Backward::DetachedMargin),
        None,
    );
    assert!(matrix_err(&f64s(&out.grad_w.unwrap()), &r.gw) < 1e-12);
    // A-Softmax refuses a zero row outright.
    let a = spec_of(
        &x,
        &w,
        &[0, 2],
        &qi(4),
        0,
        1,
        Variant::ASoftmax,
        Backward::Full,
    );
    match loss(&a, false, 53).unwrap_err() {
        Error::Degenerate { what } => {
            assert!(what.starts_with("w[1] is the zero vector"), "{what}")
        }
        e => panic!("{e:?}"),
    }
}

// ---------------------------------------------------------------------------
// Rejected inputs
// ---------------------------------------------------------------------------

fn shape_msg(spec: &LossSpec) -> String {
    match loss(spec, false, 53).unwrap_err() {
        Error::Shape { what } => what,
        e => panic!("expected a Shape error, got {e:?}"),
    }
}

fn domain_arg(spec: &LossSpec) -> &'static str {
    match loss(spec, false, 53).unwrap_err() {
        Error::Domain { arg, .. } => arg,
        e => panic!("expected a Domain error, got {e:?}"),
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let good = LossSpec::new(
        qmi(&[&[1, 2], &[3, 4]]),
        qmi(&[&[1, 0], &[0, 1], &[1, 1]]),
        vec![0, 2],
        qi(4),
    );
    assert!(loss(&good, true, 53).is_ok());

    let mut s = good.clone();
    s.x.clear();
    s.y.clear();
    assert!(shape_msg(&s).contains("empty batch"));

    let mut s = good.clone();
    s.w.clear();
    assert!(shape_msg(&s).contains("C = 0"));

    let s = LossSpec::new(vec![vec![], vec![]], vec![vec![]], vec![0, 0], qi(4));
    assert!(shape_msg(&s).contains("d = 0"));

    let mut s = good.clone();
    s.x[1].push(qi(5));
    assert_eq!(
        shape_msg(&s),
        "x[1] has 3 components, expected 2 (the length of x[0])"
    );

    let mut s = good.clone();
    s.w[2].pop();
    assert_eq!(
        shape_msg(&s),
        "w[2] has 1 components, expected 2 (the length of the rows of x)"
    );

    let mut s = good.clone();
    s.y.push(0);
    assert!(shape_msg(&s).contains("y has 3 labels"));

    let mut s = good.clone();
    s.y[1] = 3;
    let msg = shape_msg(&s);
    assert_eq!(msg, "label y[1] = 3 is not a class index: w has 3 rows");
    assert_eq!(
        loss(&s, false, 53).unwrap_err().to_string(),
        "shape error: label y[1] = 3 is not a class index: w has 3 rows"
    );

    let mut s = good.clone();
    s.m = Rational::from((1, 2));
    assert_eq!(domain_arg(&s), "m");
    s.m = qi(65537);
    assert_eq!(domain_arg(&s), "m");

    let mut s = good.clone();
    s.lambda = qi(-1);
    assert_eq!(domain_arg(&s), "lambda");

    let mut s = good.clone();
    s.scale = qi(0);
    assert_eq!(domain_arg(&s), "scale");
    s.scale = Rational::from((-1, 3));
    assert_eq!(domain_arg(&s), "scale");

    assert!(matches!(
        loss(&good, false, 8),
        Err(Error::Precision { .. })
    ));
    assert!(matches!(
        loss_enclosure(&good, 4),
        Err(Error::Precision { .. })
    ));
    // loss_enclosure validates like loss.
    let mut s = good.clone();
    s.y[0] = 9;
    assert!(matches!(loss_enclosure(&s, 128), Err(Error::Shape { .. })));
}

#[test]
fn antiparallel_target_with_real_margin_has_no_gradient() {
    let w = qmi(&[&[1, 2], &[2, -1]]);
    let x = qmi(&[&[-2, -4]]); // x = −2·W_0: c_0 = −1, θ = π
    let mut spec = LossSpec::new(x, w, vec![0], Rational::from((3, 2)));
    // The value exists: ψ(π) = (−1)^1 cos(3π/2) − 2 = −2, f_0 = ‖x‖·(−2).
    let v = loss(&spec, false, 53).unwrap().loss.f64();
    let r = 20f64.sqrt();
    let expect = (1.0 + (0.0 - (-2.0 * r)).exp()).ln();
    assert!((v - expect).abs() < 1e-14 * expect);
    match loss(&spec, true, 53).unwrap_err() {
        Error::Degenerate { what } => assert!(
            what.contains("antiparallel") && what.contains("x[0]"),
            "{what}"
        ),
        e => panic!("{e:?}"),
    }
    // Integer m: ψ is a polynomial in c, the gradient exists.
    spec.m = qi(4);
    assert!(loss(&spec, true, 53).is_ok());
    // Detached: exists as well.
    spec.m = Rational::from((3, 2));
    spec.backward = Backward::DetachedMargin;
    assert!(loss(&spec, true, 53).is_ok());
}

#[test]
fn real_margin_on_the_axis_uses_the_limit_derivative() {
    // x ∥ W_0 (c = 1) with a real margin: ψ(1) = 1 and ψ′(1) = m² (the limit). Against
    // central differences in the perpendicular direction.
    let w = vec![vec![1.0, 0.0, 0.0], vec![0.5, 1.0, -1.0]];
    let x = vec![vec![2.0, 0.0, 0.0]];
    let spec = spec_of(
        &x,
        &w,
        &[0],
        &Rational::from((17, 10)),
        5,
        1,
        Variant::ASoftmax,
        Backward::Full,
    );
    check_against_central_differences(&spec);
    let mut l = spec.clone();
    l.variant = Variant::LSoftmax;
    check_against_central_differences(&l);
}

// ---------------------------------------------------------------------------
// λ schedule
// ---------------------------------------------------------------------------

fn sched(base: i64, gamma: Rational, power: Rational, lmin: i64, iter: i64) -> LambdaSchedule {
    LambdaSchedule {
        base: qi(base),
        gamma,
        power,
        lambda_min: qi(lmin),
        iter: qi(iter),
    }
}

#[test]
fn lambda_schedule() {
    let g = Rational::from((12, 100));
    // Shipped defaults: 1000 at iter 0, 1000/13 at 100, floor 5 late.
    let a = lambda(&sched(1000, g.clone(), qi(1), 5, 0), 53).unwrap();
    assert!(a.is_exact() && a.f64() == 1000.0);
    assert_eq!(
        lambda(&sched(1000, g.clone(), qi(1), 5, 100), 53)
            .unwrap()
            .f64(),
        1000.0 / 13.0
    );
    assert_eq!(
        lambda(&sched(1000, g.clone(), qi(1), 5, 100_000), 53)
            .unwrap()
            .f64(),
        5.0
    );
    // sphereface_pytorch: max(5, 1500/(1 + 0.1·it)).
    let b = lambda(&sched(1500, Rational::from((1, 10)), qi(1), 5, 20), 53).unwrap();
    assert_eq!(b.f64(), 500.0);
    // Integer power 2, exact.
    let c = lambda(&sched(1000, g.clone(), qi(2), 0, 25), 64).unwrap();
    assert!(c.is_exact() && c.f64() == 1000.0 / 16.0);
    // Real power: 1000·4^(−1/2) = 500 (exactly, though computed via exp/ln).
    let d = lambda(&sched(1000, g.clone(), Rational::from((1, 2)), 0, 25), 64).unwrap();
    assert_eq!(d.f64(), 500.0);
    let e = lambda(&sched(1000, g.clone(), Rational::from((7, 10)), 1, 10), 53).unwrap();
    assert!((e.f64() - 1000.0 * 2.2f64.powf(-0.7)).abs() < 1e-12);
    // Errors.
    for s in [
        sched(-1, g.clone(), qi(1), 5, 0),
        sched(1000, Rational::from(-1), qi(1), 5, 0),
        sched(1000, g.clone(), qi(1), -5, 0),
        sched(1000, g.clone(), qi(1), 5, -3),
    ] {
        assert!(matches!(lambda(&s, 53), Err(Error::Domain { .. })));
    }
    assert!(matches!(
        lambda(&sched(1000, g, qi(1), 5, 0), 4),
        Err(Error::Precision { .. })
    ));
}

#[test]
fn output_shapes() {
    let spec = LossSpec::new(
        qmi(&[&[1, 2, 3]]),
        qmi(&[&[1, 0, 0], &[0, 1, 0]]),
        vec![1],
        qi(2),
    );
    let LossOutput { grad_x, grad_w, .. } = loss(&spec, true, 53).unwrap();
    let (gx, gw) = (grad_x.unwrap(), grad_w.unwrap());
    assert_eq!((gx.len(), gx[0].len()), (1, 3));
    assert_eq!((gw.len(), gw[0].len()), (2, 3));
    let o = loss(&spec, false, 53).unwrap();
    assert!(o.grad_x.is_none() && o.grad_w.is_none());
}

// ---------------------------------------------------------------------------
// Robustness on arbitrary small rational inputs (zeros, parallel rows, decimals)
// ---------------------------------------------------------------------------

mod robustness {
    use super::*;
    use proptest::prelude::*;

    fn entry() -> impl Strategy<Value = Rational> {
        // Small integers (many zeros and parallel rows) and non-dyadic decimals.
        prop_oneof![
            (-2i64..=2).prop_map(Rational::from),
            (-30i64..=30).prop_map(|n| Rational::from((n, 10))),
        ]
    }

    fn batch() -> impl Strategy<Value = (Vec<Vec<Rational>>, Vec<Vec<Rational>>, Vec<usize>)> {
        (1usize..=3, 1usize..=3, 1usize..=3).prop_flat_map(|(n, c, d)| {
            (
                prop::collection::vec(prop::collection::vec(entry(), d), n),
                prop::collection::vec(prop::collection::vec(entry(), d), c),
                prop::collection::vec(0..c, n),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        #[test]
        fn never_panics_and_encloses((x, w, y) in batch(),
                                     m in prop_oneof![Just(Rational::from(1)), Just(Rational::from(4)), Just(Rational::from((3, 2)))],
                                     lsoftmax in any::<bool>(), detached in any::<bool>(), lam in 0i64..=5) {
            let mut spec = LossSpec::new(x, w, y, m);
            spec.lambda = Rational::from(lam);
            spec.scale = Rational::from(2);
            spec.variant = if lsoftmax { Variant::LSoftmax } else { Variant::ASoftmax };
            spec.backward = if detached { Backward::DetachedMargin } else { Backward::Full };
            let value = loss(&spec, false, 53);
            match &value {
                Ok(v) => {
                    prop_assert!(v.loss.f64() >= 0.0 && v.loss.f64().is_finite());
                    // Consistent with a direct enclosure at another working precision.
                    let iv = loss_enclosure(&spec, 300).unwrap().unwrap();
                    prop_assert!(iv.lo() <= v.loss.enclosure().hi() && v.loss.enclosure().lo() <= iv.hi());
                }
                Err(Error::Degenerate { what }) => {
                    prop_assert!(!lsoftmax && what.contains("w["), "{}", what);
                }
                Err(e) => prop_assert!(false, "unexpected error {e:?}"),
            }
            match loss(&spec, true, 53) {
                Ok(g) => {
                    prop_assert!(value.is_ok());
                    prop_assert_eq!(g.loss.f64(), value.unwrap().loss.f64());
                    for a in g.grad_x.unwrap().iter().chain(&g.grad_w.unwrap()).flatten() {
                        prop_assert!(a.f64().is_finite());
                    }
                }
                Err(Error::Degenerate { .. }) => {}
                Err(e) => prop_assert!(false, "unexpected error {e:?}"),
            }
        }
    }
}

/// A gradient that is exactly a rounding midpoint of f32 but computed through an
/// inexact factor: N = 3 samples, so the mean's `s/N = 1/3` is an interval, and two equal
/// class rows give `∂L/∂W_1 = (s/N)·½·Σ x_n = ½ + 2^−25`, halfway between two f32.
/// No enclosure short of a point decides its f32 rounding. Found by the
/// loss_grad_vs_oracle fuzz target (the Ziv loop ran to its 2²²-bit cap, 70 s, on
/// `s/N = 58.818359375/3`). The equal logits are proven equal, so p = ½ exactly and the
/// gradient is computed as the exact rational it is.
#[test]
fn gradient_on_a_rounding_midpoint_is_exact() {
    let x = 1.0 + 2f64.powi(-24);
    let mut spec = LossSpec::new(
        vec![vec![q(x)], vec![q(x)], vec![q(x)]],
        qmi(&[&[1], &[1]]),
        vec![0, 0, 0],
        qi(1),
    );
    spec.variant = Variant::LSoftmax;
    let out = loss(&spec, true, 64).unwrap();
    let gw = out.grad_w.unwrap();
    let half = 0.5 + 2f64.powi(-25);
    assert_eq!((gw[1][0].f64(), gw[1][0].f32()), (half, 0.5));
    assert_eq!((gw[0][0].f64(), gw[0][0].f32()), (-half, -0.5));
    for g in [&gw[0][0], &gw[1][0]] {
        assert!(g.is_exact());
        assert!(
            g.enclosure()
                .contains_rational(&(q(x) / 2u32 * g.f64().signum() as i32))
        );
    }
    // ∂L/∂x_n = (s/N)·(p_0 − 1 + p_1)·W = 0 exactly.
    for g in out.grad_x.unwrap().iter().flatten() {
        assert_eq!(g.f64().to_bits(), 0);
        assert!(g.is_exact());
    }
    assert!((out.loss.f64() - std::f64::consts::LN_2).abs() <= f64::EPSILON);
}

/// A fractional power with a rational result: `(1 + 3·1)^(−½) = ½`, so with
/// `base = 1 + 2⁻²⁴` λ is `½ + 2⁻²⁵`, halfway between two f32. Taken over intervals it
/// never settled (the Ziv loop ran towards its cap); it is now computed exactly.
#[test]
fn lambda_with_a_fractional_power_and_a_rational_result_is_exact() {
    let base = rational_from_f64(1.0 + 2f64.powi(-24)).unwrap();
    let s = LambdaSchedule {
        base: base.clone(),
        gamma: Rational::from(3),
        power: Rational::from((1, 2)),
        lambda_min: Rational::new(),
        iter: Rational::from(1),
    };
    let l = lambda(&s, 64).unwrap();
    assert!(l.is_exact());
    assert_eq!((l.f64(), l.f32()), (0.5 + 2f64.powi(-25), 0.5));
    // 8^(−3/2) = 1/(16·√2)·… is irrational: the interval route, checked in f64.
    let s = LambdaSchedule {
        gamma: Rational::from(7),
        power: Rational::from((3, 2)),
        ..s
    };
    let l = lambda(&s, 64).unwrap();
    assert!(!l.is_exact());
    let want = (1.0 + 2f64.powi(-24)) * 8f64.powf(-1.5);
    assert!((l.f64() - want).abs() <= 2.0 * f64::EPSILON * want);
    // 27^(−2/3) = 1/9 exactly.
    let s = LambdaSchedule {
        base: Rational::from(9),
        gamma: Rational::from(26),
        power: Rational::from((2, 3)),
        ..s
    };
    let l = lambda(&s, 64).unwrap();
    assert!(l.is_exact() && l.f64() == 1.0);
}

// ---------------------------------------------------------------------------
// Issue 11: correct rounding proven, never assumed.
// ---------------------------------------------------------------------------

/// A saturated softmax next to a rounding midpoint: L-Softmax, m = 1, s = 3,
/// x = 1 + 2^−23, W = (0, G/3): f_0 = 0, f_1 = G·(1 + 2^−23). Then
/// ∂L/∂W_0 = −3x·p_1 = −t·(1 − e^(−f_1)/(1 + e^(−f_1))) with t = 3x = 3 + 3·2^−23 an
/// f32 midpoint (26 significant bits ending in 11): the value lies strictly inside
/// (0, t), so its f32 is the float just below t in magnitude — by this argument, not by
/// the oracle. The gap goes up to 10⁶ (e^(−10⁶) ≈ 2^(−1442695)), each decided at modest
/// precision (the tie rule used to return the even neighbour, the wrong one).
#[test]
fn saturated_softmax_next_to_a_midpoint_is_rounded_on_the_right_side() {
    let x = 1.0 + 2f64.powi(-23);
    let t = 3.0 * x; // exact in f64: 0x1.800003p+1
    // The two f32 around t: 0x1.800002p+1 and 0x1.800004p+1; t is their midpoint.
    let below = f32::from_bits(0x4040_0001);
    assert_eq!(
        (f64::from(below) + f64::from(f32::from_bits(0x4040_0002))) / 2.0,
        t
    );
    for gap in [20_000i64, 300_000, 1_000_000] {
        let mut spec = LossSpec::new(
            vec![vec![q(x)]],
            vec![vec![qi(0)], vec![Rational::from((gap, 3))]],
            vec![0],
            qi(1),
        );
        spec.variant = Variant::LSoftmax;
        spec.scale = qi(3);
        let out = loss(&spec, true, 16).unwrap();
        let gw = out.grad_w.unwrap();
        assert_eq!(gw[0][0].f32(), -below, "gap {gap}: ∂L/∂W_0");
        assert_eq!(gw[1][0].f32(), below, "gap {gap}: ∂L/∂W_1");
        // f64 holds t exactly, and t·(1 − ε) rounds back to t.
        assert_eq!((gw[0][0].f64(), gw[1][0].f64()), (-t, t));
        assert!(!gw[0][0].is_exact());
        // The loss is f_1 − f_0 + ln1p(e^(−f_1)): just above the f64 G·x.
        assert_eq!(out.loss.f64(), gap as f64 * x);
    }
}

/// The other direction: the target dominates by a gap G, so every gradient component
/// is of order e^(−G) and underflows for G > 745; its decimal is nonzero with the right
/// sign and its f64/f32 are correctly signed zeros. L-Softmax, m = 1: with
/// x = (1, 0), W_0 = (G, 0), W_1 = (0, 1): p_1 = 1/(1 + e^G), ∂L/∂x = p_1·(W_1 − W_0)
/// = p_1·(−G, 1), ∂L/∂W_1 = p_1·x, ∂L/∂W_0 = −p_1·x; components with x[k] = 0 are exact 0.
#[test]
fn tiny_gradient_components_keep_their_sign_and_decimal() {
    for gap in [1000i64, 100_000, 1_000_000] {
        let mut spec = LossSpec::new(qmi(&[&[1, 0]]), qmi(&[&[gap, 0], &[0, 1]]), vec![0], qi(1));
        spec.variant = Variant::LSoftmax;
        let out = loss(&spec, true, 24).unwrap();
        let gx = out.grad_x.unwrap();
        let gw = out.grad_w.unwrap();
        // p_1 = e^(−G)/(1 + e^(−G)): its decimal exponent is ⌊−G·log10 e⌋.
        let e10 = (-(gap as f64) * std::f64::consts::LOG10_E).floor() as i64;
        let exp_of = |s: &str| s.split_once('e').unwrap().1.parse::<i64>().unwrap();
        assert!(
            gx[0][1].decimal().starts_with(|c: char| c.is_ascii_digit()),
            "{}",
            gx[0][1].decimal()
        );
        assert_eq!(exp_of(&gx[0][1].decimal()), e10, "∂L/∂x[1] = p_1");
        assert!(gx[0][0].decimal().starts_with('-'));
        assert_eq!(gx[0][1].f64().to_bits(), 0, "+0");
        assert_eq!(gx[0][0].f64().to_bits(), (-0.0f64).to_bits(), "−0");
        assert_eq!(gx[0][0].f32().to_bits(), (-0.0f32).to_bits(), "−0");
        assert_eq!(gw[1][0].f64().to_bits(), 0);
        assert_eq!(gw[0][0].f64().to_bits(), (-0.0f64).to_bits());
        assert!(gw[0][0].decimal().starts_with('-'));
        for g in [&gw[0][1], &gw[1][1]] {
            assert!(g.is_exact() && g.decimal() == "0");
        }
        // The loss ln1p(e^(−G)) is tiny and positive, not 0.
        assert_eq!(exp_of(&out.loss.decimal()), e10);
    }
}

/// Equal logits give true midpoints through p = 1/3, computed exactly: three equal rows
/// (L-Softmax, m = 1), x = 3·(1 + 2^−24): ∂L/∂W_j = (1/3)·x = 1 + 2^−24 for j ≠ y, an f32
/// midpoint that ties to even (1.0); ∂L/∂W_y = −(2/3)·x = −2 − 2^−23, exact in f32.
#[test]
fn equal_logits_give_exact_thirds() {
    let x = 3.0 * (1.0 + 2f64.powi(-24));
    let mut spec = LossSpec::new(vec![vec![q(x)]], qmi(&[&[2], &[2], &[2]]), vec![0], qi(1));
    spec.variant = Variant::LSoftmax;
    let out = loss(&spec, true, 64).unwrap();
    let gw = out.grad_w.unwrap();
    for g in &gw[1..3] {
        assert!(g[0].is_exact());
        assert_eq!((g[0].f64(), g[0].f32()), (1.0 + 2f64.powi(-24), 1.0));
    }
    // −2·(1 + 2^−24) is an f32 midpoint too: ties to even, −2.
    assert_eq!(
        (gw[0][0].f64(), gw[0][0].f32()),
        (-2.0 - 2f64.powi(-23), -2.0)
    );
    assert!(gw[0][0].is_exact());
    assert!((out.loss.f64() - 3f64.ln()).abs() <= f64::EPSILON * 2.0);
    let gx = out.grad_x.unwrap();
    assert!(
        gx[0][0].is_exact() && gx[0][0].f64().to_bits() == 0,
        "Σ p_j W_j − W_y = 0"
    );
}

/// Remainders that vanish exactly although the probabilities are transcendental: the
/// classes' gradient vectors agree in a component (u_j[k] equal for every j), so
/// Σ_j (p_j − [j = y])·u_j[k] = 0. A-Softmax with ŵ = (±1/√2, 1/√2): component 1 is
/// 1/√2 for both rows (an irrational proof over surds); L-Softmax with rows (1, 5) and
/// (2, 5): component 1 is 5 for both.
#[test]
fn gradient_components_that_vanish_by_structure_are_exact_zeros() {
    let a = LossSpec::new(qmi(&[&[3, 1]]), qmi(&[&[1, 1], &[-1, 1]]), vec![0], qi(1));
    let mut l = LossSpec::new(qmi(&[&[3, 1]]), qmi(&[&[1, 5], &[2, 5]]), vec![1], qi(1));
    l.variant = Variant::LSoftmax;
    for spec in [a, l] {
        let out = loss(&spec, true, 64).unwrap();
        let gx = out.grad_x.unwrap();
        assert!(gx[0][1].is_exact(), "{:?}", spec.variant);
        assert_eq!(gx[0][1].f64().to_bits(), 0);
        assert_eq!(gx[0][1].decimal(), "0");
        assert!(gx[0][0].f64() != 0.0);
    }
}

/// The textbook forms, `ℓ = log Σ_j e^{f_j} − f_y` and `∂ℓ = Σ_j (p_j − [j = y])·∂f_j`,
/// evaluated with plain MPFR floats at 3000 bits (not rigorous, but 2^−2900 is far
/// below anything a random batch needs), from their definitions: θ = acos c,
/// k = ⌊mθ/π⌋, ψ = (−1)^k cos(mθ) − 2k, ψ′ = (−1)^k m sin(mθ)/sin θ. The oracle's
/// cancellation-free forms must give the same correctly rounded f64 on random batches
/// where both decide (moderate logits), for both variants, margins 1…4, λ ∈ {0, 3/2}.
#[test]
#[allow(clippy::needless_range_loop)] // the textbook formulas, indexed as written
fn cancellation_free_forms_agree_with_the_textbook_forms() {
    const P: u32 = 3000;
    let f = |v: &Rational| Float::with_val(P, v);
    let mut rng = Rng(0x5eed_1111);
    for case in 0..24 {
        let (n, c, d) = (1 + rng.below(2), 2 + rng.below(3), 2 + rng.below(3));
        let x = rand_matrix(&mut rng, n, d);
        let w = rand_matrix(&mut rng, c, d);
        let y: Vec<usize> = (0..n).map(|_| rng.below(c)).collect();
        let m = 1 + (case % 4) as i64;
        let variant = if case % 2 == 0 {
            Variant::ASoftmax
        } else {
            Variant::LSoftmax
        };
        let mut spec = LossSpec::new(qm(&x), qm(&w), y.clone(), qi(m));
        spec.variant = variant;
        spec.lambda = if case % 3 == 0 { q(1.5) } else { qi(0) };
        spec.scale = qi(1 + 3 * (case % 2) as i64);
        let out = loss(&spec, true, 53).unwrap();
        let (lam, s) = (f(&spec.lambda), f(&spec.scale));
        let pi = Float::with_val(P, rug::float::Constant::Pi);
        let dot = |a: &[f64], b: &[f64]| {
            a.iter().zip(b).fold(Float::new(P), |acc, (u, v)| {
                acc + Float::with_val(P, *u) * Float::with_val(P, *v)
            })
        };
        let mut total = Float::new(P);
        let mut gw = vec![vec![Float::new(P); d]; c];
        for i in 0..n {
            let r = dot(&x[i], &x[i]).sqrt();
            let mut logits = Vec::new();
            let mut dfx: Vec<Vec<Float>> = Vec::new();
            let mut dfw: Vec<Vec<Float>> = Vec::new();
            for j in 0..c {
                let nu = dot(&w[j], &w[j]).sqrt();
                let wx = dot(&w[j], &x[i]);
                let cj = Float::with_val(P, &wx / &nu) / &r;
                // h(c) and h′(c): the margin φ for the target, c for the others.
                let (h, dh) = if j == y[i] && m > 1 {
                    let theta = Float::with_val(P, cj.acos_ref());
                    let mt = Float::with_val(P, &theta * m);
                    let k = Float::with_val(P, &mt / &pi)
                        .floor()
                        .to_f64()
                        .min((m - 1) as f64) as i64;
                    let sign = if k % 2 == 0 { 1 } else { -1 };
                    let psi = Float::with_val(P, mt.cos_ref()) * sign - 2 * k;
                    let dpsi = Float::with_val(P, mt.sin_ref()) * (sign * m)
                        / Float::with_val(P, theta.sin_ref());
                    let one_l = Float::with_val(P, &lam + 1u32);
                    (
                        (Float::with_val(P, &lam * &cj) + psi) / &one_l,
                        Float::with_val(P, &lam + dpsi) / one_l,
                    )
                } else {
                    (cj.clone(), Float::with_val(P, 1))
                };
                let q = Float::with_val(P, &h - Float::with_val(P, &cj * &dh));
                let proj: Vec<Float> = (0..d)
                    .map(|k| {
                        Float::with_val(P, x[i][k])
                            - Float::with_val(P, &wx / dot(&w[j], &w[j])) * w[j][k]
                    })
                    .collect();
                match variant {
                    Variant::ASoftmax => {
                        logits.push(Float::with_val(P, &s * &r) * &h);
                        dfx.push(
                            (0..d)
                                .map(|k| {
                                    Float::with_val(
                                        P,
                                        &s * (Float::with_val(P, &dh * w[j][k]) / &nu
                                            + Float::with_val(P, &q * x[i][k]) / &r),
                                    )
                                })
                                .collect(),
                        );
                        dfw.push(
                            proj.iter()
                                .map(|pk| Float::with_val(P, &s * &dh) * pk / &nu)
                                .collect(),
                        );
                    }
                    Variant::LSoftmax => {
                        logits.push(Float::with_val(P, &s * &nu) * &r * &h);
                        dfx.push(
                            (0..d)
                                .map(|k| {
                                    Float::with_val(
                                        P,
                                        &s * (Float::with_val(P, &dh * w[j][k])
                                            + Float::with_val(P, &q * &nu) * x[i][k] / &r),
                                    )
                                })
                                .collect(),
                        );
                        dfw.push(
                            (0..d)
                                .map(|k| {
                                    Float::with_val(
                                        P,
                                        &s * (Float::with_val(P, &r * &h) / &nu * w[j][k]
                                            + Float::with_val(P, &dh * &proj[k])),
                                    )
                                })
                                .collect(),
                        );
                    }
                }
            }
            let z = logits.iter().fold(Float::new(P), |acc, v| {
                acc + Float::with_val(P, v.exp_ref())
            });
            total += Float::with_val(P, z.ln_ref()) - &logits[y[i]];
            for k in 0..d {
                let mut g = Float::new(P);
                for j in 0..c {
                    let a = Float::with_val(P, logits[j].exp_ref()) / &z - i64::from(j == y[i]);
                    g += Float::with_val(P, &a * &dfx[j][k]);
                    gw[j][k] += a * &dfw[j][k] / n as u32;
                }
                let g = g / n as u32;
                assert_eq!(
                    out.grad_x.as_ref().unwrap()[i][k].f64(),
                    g.to_f64(),
                    "case {case}: ∂L/∂x[{i}][{k}]"
                );
            }
        }
        assert_eq!(
            out.loss.f64(),
            (total / n as u32).to_f64(),
            "case {case}: loss"
        );
        for j in 0..c {
            for k in 0..d {
                assert_eq!(
                    out.grad_w.as_ref().unwrap()[j][k].f64(),
                    gw[j][k].to_f64(),
                    "case {case}: ∂L/∂W[{j}][{k}]"
                );
            }
        }
    }
}

/// At an irrational branch threshold `c = cos(π/4) = 1/√2` (x = (2, 2, 0), W_0 = (1, 0, 0),
/// m = 4), `ψ′(c) = 4·U_3(c) = 0` and `ψ(c) = −1` exactly (c² = ½: Niven), so with λ = 0
/// the target's weight gradient `φ′·P/ν` is exactly 0 — proven, not an enclosure of 0
/// (which ran to the precision cap). With λ = 5, φ′ = 5/6 and it is not 0 where P is not.
#[test]
fn an_irrational_branch_threshold_gives_exact_values() {
    let mut spec = LossSpec::new(
        qmi(&[&[2, 2, 0]]),
        vec![vec![qi(1), qi(0), qi(0)], vec![qi(0), qi(1), q(0.5)]],
        vec![0],
        qi(4),
    );
    let out = loss(&spec, true, 64).unwrap();
    for g in &out.grad_w.unwrap()[0] {
        assert!(g.is_exact() && g.f64().to_bits() == 0, "{}", g.decimal());
    }
    spec.lambda = qi(5);
    let out = loss(&spec, true, 64).unwrap();
    let gw = out.grad_w.unwrap();
    // P = x − (ŵ·x)ŵ = (0, 2, 0): only the middle component is nonzero.
    assert!(gw[0][1].f64() < 0.0, "(p_0 − 1)·s·φ′·P[1]/ν with p_0 < 1");
    assert!(
        gw[0][0].is_exact() && gw[0][2].is_exact(),
        "P[0] = P[2] = 0 exactly"
    );
}

/// A gradient component that vanishes by structure at an irrational cosine (found by
/// fuzzing: it ran to the precision cap). x = (1, 1, 0), W_0 = W_1 = (1, 0, 0), m = 3:
/// c = 1/√2, ψ = T_3(c) = −c, ψ′ = 3·U_2(c) = 3, and for every λ the target's
/// ∂f_0/∂x[0] = s·(φ′ + (φ − cφ′)·c) = s equals the plain ∂f_1/∂x[0] = s, so
/// ∂L/∂x[0] = p_1·(u_1[0] − u_0[0]) = 0 exactly. Proven over surds with ψ, ψ′ written as
/// a + b·c (T_3(c) = c·(U_1(w) − U_0(w)), w = 2c² − 1).
#[test]
fn a_structural_zero_at_an_irrational_cosine_is_proven() {
    for lam in [0i64, 13] {
        let mut spec = LossSpec::new(
            qmi(&[&[1, 1, 0]]),
            qmi(&[&[1, 0, 0], &[1, 0, 0]]),
            vec![0],
            qi(3),
        );
        spec.lambda = qi(lam);
        spec.scale = qi(30);
        let out = loss(&spec, true, 64).unwrap();
        let gx = out.grad_x.unwrap();
        assert!(
            gx[0][0].is_exact() && gx[0][0].f64().to_bits() == 0,
            "λ = {lam}: {}",
            gx[0][0].decimal()
        );
        assert!(gx[0][1].f64() != 0.0);
    }
}

/// A tiny component behind an exact cancellation with irrational entries: A-Softmax,
/// x = (1000, 1000, 1), s = 1000, rows W_0 = (1, 1, 1), W_1 = (1, 1, −1), W_2 = (1, −1, 1)
/// (the target, y = 2) and W_3 = (0, 0, 1). The first three share ŵ[0] = 1/√3, so
/// ∂L/∂x[0] = s·p_3·(0 − 1/√3) only, with p_3 ≈ e^(−1.15·10⁶): formed term by term over
/// intervals, `p_1·ŵ_1[0] − p_1·ŵ_0[0]` (p_1 ≈ e^(−1155)) would leave a residue that
/// only about 1.7·10⁶ working bits push below the true value; the differences are formed
/// exactly instead (identical radicands 1/3 merged). Its sign and decimal exponent are
/// checked against −s·e^(f_3 − f_0)/√3.
#[test]
fn a_tiny_component_behind_an_irrational_cancellation_is_decided() {
    let mut spec = LossSpec::new(
        qmi(&[&[1000, 1000, 1]]),
        qmi(&[&[1, 1, 1], &[1, 1, -1], &[1, -1, 1], &[0, 0, 1]]),
        vec![2],
        qi(1),
    );
    spec.scale = qi(1000);
    let out = loss(&spec, true, 24).unwrap();
    let g = &out.grad_x.unwrap()[0][0];
    assert_eq!(g.f64().to_bits(), (-0.0f64).to_bits());
    // f_0 − f_3 = 1000·(2001/√3 − 1): log10 of s·e^{f_3 − f_0}/√3 gives the exponent.
    let gap = 1000.0 * (2001.0 / 3f64.sqrt() - 1.0);
    let e10 = ((3.0 - 0.5 * 3f64.log10()) - gap * std::f64::consts::LOG10_E).floor() as i64;
    let d = g.decimal();
    assert!(d.starts_with('-'), "{d}");
    let exp: i64 = d.split_once('e').unwrap().1.parse().unwrap();
    assert!((exp - e10).abs() <= 1, "{d} vs 10^{e10}");
}

/// A weight gradient that vanishes across samples (found by fuzzing: it ran to the
/// precision cap). Three identical features, identical class rows, targets y = (2, 2, 0),
/// L-Softmax with the detached margin: every logit's x-part is `s·x`, the margin logit q
/// is the same in each sample, and ∂L/∂W_0 = s·x·(p_00 + p_10 + p_20 − 1) with
/// p_00 = p_10 = (1 − q)/2 and p_20 = q: exactly 0, though each probability is
/// transcendental. Proven by matching the samples' probability atoms.
#[test]
fn a_cross_sample_cancellation_is_proven_zero() {
    let x = vec![vec![qi(3), qi(1), qi(2)]; 3];
    let mut spec = LossSpec::new(
        x,
        qmi(&[&[1, 1, 1], &[1, 1, 1], &[1, 1, 1]]),
        vec![2, 2, 0],
        qi(8),
    );
    spec.variant = Variant::LSoftmax;
    spec.backward = Backward::DetachedMargin;
    spec.lambda = qi(1000);
    spec.scale = qi(64);
    let out = loss(&spec, true, 53).unwrap();
    for g in &out.grad_w.unwrap()[0] {
        assert!(g.is_exact() && g.f64().to_bits() == 0, "{}", g.decimal());
    }
}
