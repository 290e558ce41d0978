"""A-Softmax (SphereFace) and L-Softmax loss as a ``torch.nn.Module``.

``ASoftmaxLoss(m, lam, scale, variant, backward)(x, w, y)`` returns the batch-mean loss;
autograd gives ∂L/∂X and ∂L/∂W. ψ(c) = (−1)^k T_m(c) − 2k with the branch
k = #{ j ∈ 1..m−1 : c < cos(jπ/m) } decided without acos, T_m by the Chebyshev
recurrence, so the backward needs no 1/sin θ; the target logit is
φ(c) = (λ·c + ψ(c))/(1 + λ) times s·‖x‖ (A-Softmax, W normalized) or s·‖W_y‖‖x‖ (L-Softmax).
With ``backward="detached_margin"`` the margin term enters the forward only (its
gradient is that of the plain logit), as in implementations that detach it.
"""

import math

import torch


def chebyshev_t(m: int, c: torch.Tensor) -> torch.Tensor:
    """T_m(c) by the three-term recurrence."""
    t0, t1 = torch.ones_like(c), c
    if m == 0:
        return t0
    for _ in range(m - 1):
        t0, t1 = t1, 2 * c * t1 - t0
    return t1


def psi(m: int, c: torch.Tensor) -> torch.Tensor:
    """ψ(c) for an integer margin m ≥ 1, monotone in c on [−1, 1]."""
    k = torch.zeros_like(c)
    for j in range(1, m):
        k = k + (c < math.cos(j * math.pi / m)).to(c.dtype)
    sign = 1 - 2 * torch.remainder(k, 2)
    return sign * chebyshev_t(m, c) - 2 * k


class ASoftmaxLoss(torch.nn.Module):
    """Mean A-Softmax / L-Softmax loss of a batch: ``forward(x, w, y)``."""

    def __init__(self, m: int, lam: float = 0.0, scale: float = 1.0,
                 variant: str = "a_softmax", backward: str = "full"):
        super().__init__()
        if variant not in ("a_softmax", "l_softmax") or backward not in ("full", "detached_margin"):
            raise ValueError(f"unknown variant {variant!r} or backward {backward!r}")
        self.m, self.lam, self.scale = m, lam, scale
        self.variant, self.backward = variant, backward

    def forward(self, x: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r = x.norm(dim=1, keepdim=True)                       # ‖x_n‖
        nu = w.norm(dim=1, keepdim=True)                      # ‖W_j‖
        c = ((x / r) @ (w / nu).t()).clamp(-1.0, 1.0)         # N×C cosines
        rows = torch.arange(x.shape[0])
        cy = c[rows, y]
        phi = (self.lam * cy + psi(self.m, cy)) / (1 + self.lam)
        if self.backward == "detached_margin":
            phi = cy + (phi - cy).detach()                    # forward φ, backward of c
        h = c.clone()
        h[rows, y] = phi
        kappa = nu.t() if self.variant == "l_softmax" else torch.ones_like(nu.t())
        logits = self.scale * kappa * r * h
        return torch.nn.functional.cross_entropy(logits, y)
