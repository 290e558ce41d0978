"""A small NumPy implementation of A-Softmax: cos(m*theta), psi, dpsi/dc, and the
batch loss with gradients.

It is written the way a user's implementation would be (the textbook formulas, a
stable log-sum-exp), and validated by `asoftmax-spec check` against the oracle's
vectors. `FLAWS` holds deliberately flawed variants to show that the check bites.

The scalar ops compute in the dtype of `c` (float64, or NumPy's float16); `rnd`
rounds every intermediate result to a format NumPy lacks (`bf16`: bfloat16 emulated
in float32). The loss computes in `dt` (float64, or float32 for the autocast scheme,
whose cosine `cos_rnd` rounds to the 16-bit format before the clamp).
"""

import numpy as np


def bf16(v):
    """float32 values rounded to bfloat16 (nearest, ties to even), kept as float32:
    the top 16 bits of the float32 encoding, rounded on the bits below."""
    b = np.atleast_1d(np.asarray(v, dtype=np.float32)).view(np.uint32).astype(np.uint64)
    lsb = (b >> 16) & 1
    r = ((b + 0x7FFF + lsb) >> 16 << 16).astype(np.uint32)
    out = r.view(np.float32)
    out = np.where(np.isnan(np.atleast_1d(v)), np.float32("nan"), out)
    return out.reshape(np.shape(v)) if np.ndim(v) else np.float32(out[0])


def same(v):
    return v


def branch(m, c):
    """k = #{ j in 1..m-1 : c < cos(j*pi/m) } (no acos)."""
    c = np.asarray(c)
    k = np.zeros(c.shape, dtype=np.int64)
    for j in range(1, m):
        k += c < np.cos(j * np.pi / m)
    return k


def cheb_t(m, c, rnd=same):
    """T_m(c) by T_{n+1} = 2c T_n - T_{n-1} (every operation rounded by `rnd`)."""
    prev, cur = np.ones_like(c), np.array(c)
    if m == 0:
        return prev
    for _ in range(1, m):
        prev, cur = cur, rnd(rnd(2 * c * cur) - prev)
    return cur


def cheb_u(n, c, rnd=same):
    """U_n(c) by the same recurrence with U_1 = 2c."""
    prev, cur = np.ones_like(c), 2 * np.asarray(c)
    if n == 0:
        return prev
    for _ in range(1, n):
        prev, cur = cur, rnd(rnd(2 * c * cur) - prev)
    return cur


def sign_k(k, like):
    return np.where(k % 2 == 0, 1, -1).astype(np.asarray(like).dtype)


def cos_m(m, c, rnd=same):
    return cheb_t(m, c, rnd)


def psi(m, c, rnd=same):
    """psi(c) = (-1)^k T_m(c) - 2k."""
    k = branch(m, c)
    t = cheb_t(m, c, rnd)
    return rnd(sign_k(k, t) * t - (2 * k).astype(t.dtype))


def dpsi_dcos(m, c, rnd=same):
    """dpsi/dc = (-1)^k m U_{m-1}(c)."""
    k = branch(m, c)
    u = cheb_u(m - 1, c, rnd)
    return rnd(sign_k(k, u) * rnd(np.asarray(m, dtype=u.dtype) * u))


# --- a flawed variant: acos -> cos with a clamp (as several published layers do) ---

def _acos_clamped(c, eps):
    return np.arccos(np.clip(c, -1.0 + eps, 1.0 - eps))


def acos_clamp(eps):
    def cos_m_(m, c):
        return np.cos(m * _acos_clamped(c, eps))

    def psi_(m, c):
        theta = _acos_clamped(c, eps)
        k = np.floor(m * theta / np.pi)
        return sign_k(k, theta) * np.cos(m * theta) - 2.0 * k

    def dpsi_(m, c):
        theta = _acos_clamped(c, eps)
        k = np.floor(m * theta / np.pi)
        return sign_k(k, theta) * m * np.sin(m * theta) / np.sin(theta)

    return {"cos_m": cos_m_, "psi": psi_, "dpsi_dcos": dpsi_}


FAITHFUL = {"cos_m": cos_m, "psi": psi, "dpsi_dcos": dpsi_dcos}
FLAWS = {"acos-clamp-1e-5": acos_clamp(1e-5), "acos-clamp-1e-7": acos_clamp(1e-7)}


def loss_and_grads(x, w, y, m, lam=0.0, s=1.0, variant="a_softmax", backward="full", psi_fn=psi,
                   dpsi_fn=dpsi_dcos, dt=np.float64, cos_rnd=same):
    """Mean A-Softmax (or L-Softmax) loss over the batch and its gradients with
    respect to X (N x d) and the raw W (C x d), computed in `dt`; the cosine is
    rounded by `cos_rnd` before it is clamped (autocast: to the 16-bit format)."""
    x = np.asarray(x, dtype=dt)
    w = np.asarray(w, dtype=dt)
    lam, s = dt(lam), dt(s)
    n = x.shape[0]
    r = np.sqrt((x * x).sum(axis=1))            # |x_n|
    nu = np.sqrt((w * w).sum(axis=1))           # |W_j|
    what = w / nu[:, None]
    c = np.clip(cos_rnd((x @ what.T) / r[:, None]), -1, 1).astype(dt)   # N x C cosines
    kappa = nu[None, :] if variant == "l_softmax" else np.ones((1, w.shape[0]))
    rows = np.arange(n)
    cy = c[rows, y]
    phi = (lam * cy + psi_fn(m, cy)) / (1.0 + lam)
    h = c.copy()
    h[rows, y] = phi
    f = s * kappa * r[:, None] * h
    fmax = f.max(axis=1, keepdims=True)
    e = np.exp(f - fmax)
    total = e.sum(axis=1)
    loss = np.mean(fmax[:, 0] - f[rows, y] + np.log(total))
    p = e / total[:, None]
    coef = p.copy()
    coef[rows, y] -= 1.0
    coef *= s / dt(n)
    # h and h' of each logit as seen by the backward
    hp = np.ones_like(c)
    hb = c.copy()
    if backward == "full":
        hb[rows, y] = phi
        hp[rows, y] = (lam + dpsi_fn(m, cy)) / (1.0 + lam)
    gx = np.zeros_like(x)
    gw = np.zeros_like(w)
    for i in range(n):
        for j in range(w.shape[0]):
            proj = x[i] - r[i] * c[i, j] * what[j]
            rest = hb[i, j] - c[i, j] * hp[i, j]
            if variant == "l_softmax":
                dx = hp[i, j] * w[j] + rest * nu[j] / r[i] * x[i]
                dw = r[i] * hb[i, j] * what[j] + hp[i, j] * proj
            else:
                dx = hp[i, j] * what[j] + rest * x[i] / r[i]
                dw = hp[i, j] * proj / nu[j]
            gx[i] += coef[i, j] * dx
            gw[j] += coef[i, j] * dw
    return loss, gx, gw
