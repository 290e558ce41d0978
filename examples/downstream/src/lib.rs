//! A toy f32 A-Softmax kernel, as a user crate would write it: the textbook
//! three-term recurrence, and the branch k from thresholds cos(jπ/m).

/// `T_m(c)` by `T_{n+1} = 2c·T_n − T_{n−1}`.
pub fn cos_m(m: u32, c: f32) -> f32 {
    let (mut prev, mut cur) = (1.0f32, c);
    if m == 0 {
        return prev;
    }
    for _ in 1..m {
        let next = 2.0 * c * cur - prev;
        prev = cur;
        cur = next;
    }
    cur
}

/// `U_n(c)` by the same recurrence with `U_1 = 2c`.
fn cheb_u(n: u32, c: f32) -> f32 {
    let (mut prev, mut cur) = (1.0f32, 2.0 * c);
    if n == 0 {
        return prev;
    }
    for _ in 1..n {
        let next = 2.0 * c * cur - prev;
        prev = cur;
        cur = next;
    }
    cur
}

/// The branch `k = #{ j : c < cos(jπ/m) }`.
pub fn branch(m: u32, c: f32) -> u32 {
    (1..m)
        .filter(|&j| c < (j as f32 * std::f32::consts::PI / m as f32).cos())
        .count() as u32
}

/// `ψ(c) = (−1)^k T_m(c) − 2k`.
pub fn psi(m: u32, c: f32) -> f32 {
    let k = branch(m, c);
    let t = cos_m(m, c);
    (if k % 2 == 0 { t } else { -t }) - 2.0 * k as f32
}

/// `dψ/dc = (−1)^k m U_{m−1}(c)`.
pub fn dpsi_dcos(m: u32, c: f32) -> f32 {
    let d = m as f32 * cheb_u(m - 1, c);
    if branch(m, c) % 2 == 0 { d } else { -d }
}

/// A deliberately broken variant: ψ without the (−1)^k sign.
pub fn psi_without_sign(m: u32, c: f32) -> f32 {
    cos_m(m, c) - 2.0 * branch(m, c) as f32
}

/// ArcFace's target logit `cos(θ + m)` with the linear fallback `c − m·sin m` past
/// `θ = π − m` (insightface's `th`/`mm` form, through `√(1 − c²)`), in `f32`.
pub fn arcface_target(m: f32, c: f32) -> f32 {
    let c = c.clamp(-1.0, 1.0);
    let th = (std::f32::consts::PI - m).cos();
    if c > th {
        c * m.cos() - (1.0 - c * c).sqrt() * m.sin()
    } else {
        c - m * m.sin()
    }
}

/// The same with the margin taken as degrees (a wrong adapter), for the failing test.
pub fn arcface_target_degrees(m: f32, c: f32) -> f32 {
    arcface_target(m.to_radians(), c)
}

/// CurricularFace's mean softmax loss over cosines `cos` (`N × C`, labels `y`) and its
/// gradient `∂L/∂c`, in `f32`: the target logit is [`arcface_target`] (slope
/// `cos m + c·sin m/√(1 − c²)`, 1 on the linear piece), a hard negative
/// `c > cos(θ_y + m)` becomes `c·(t + c)` (slope `t + 2c`), the others stay `c`; the
/// logits are scaled by `s`.
pub fn curricularface_loss(
    m: f32,
    t: f32,
    s: f32,
    cos: &[Vec<f32>],
    y: &[usize],
) -> (f32, Vec<Vec<f32>>) {
    let n = cos.len() as f32;
    let mut loss = 0.0f32;
    let mut grad = Vec::with_capacity(cos.len());
    for (row, &label) in cos.iter().zip(y) {
        let cy = row[label];
        let sine = (1.0 - cy * cy).max(0.0).sqrt();
        let cos_theta_m = cy * m.cos() - sine * m.sin();
        let on_margin = cy > (std::f32::consts::PI - m).cos();
        let (logits, slopes): (Vec<f32>, Vec<f32>) = row
            .iter()
            .enumerate()
            .map(|(j, &c)| {
                if j == label {
                    let slope = if on_margin {
                        m.cos() + c * m.sin() / sine
                    } else {
                        1.0
                    };
                    (arcface_target(m, c), slope)
                } else if c > cos_theta_m {
                    (c * (t + c), t + 2.0 * c)
                } else {
                    (c, 1.0)
                }
            })
            .unzip();
        let f: Vec<f32> = logits.iter().map(|l| s * l).collect();
        let top = f.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = f.iter().map(|v| (v - top).exp()).collect();
        let sum: f32 = e.iter().sum();
        loss += (top + sum.ln() - f[label]) / n;
        grad.push(
            (0..row.len())
                .map(|j| {
                    let p = e[j] / sum - if j == label { 1.0 } else { 0.0 };
                    p * s * slopes[j] / n
                })
                .collect(),
        );
    }
    (loss, grad)
}
