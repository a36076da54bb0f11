"""Class-conditional normalising flow over kinetic parameter sets (torch.nn + zuko only).

The generator is a composition of bijections per class ``c`` (relevant / not relevant)::

    y = 2σ − 1  ──marginals──▶  g = Φ⁻¹(F_c,j(y_j))  ──whitening──▶  w = L_c⁻¹ (g − μ_c)
                                                                      ──flow──▶  ε ~ N(0, I)

``y`` is the GAN's feature map (the saturation σ of each K_M at the reference state);
``F_c,j`` the empirical CDF of feature ``j`` in class ``c`` (exact marginals, learnt by
counting, :mod:`rekindle.flow.marginals`); ``L_c`` the Cholesky factor of the correlation of
the normal scores ``g`` (a Gaussian copula: every pairwise linear dependence); the last
stage is a learnt conditional flow (:class:`ConditionalFlow`) for what the copula misses.
With no flow transforms the model *is* the class-conditional Gaussian copula.

This module holds the learnable part only: coupling transforms (zuko's MAF with two passes,
i.e. RealNVP-style affine coupling) so that both density evaluation (training) and
sampling (generation) take one network pass per transform.
"""

from __future__ import annotations

import torch
import zuko

N_CLASSES = 2


class ConditionalFlow(torch.nn.Module):
    """Affine coupling flow ``p(w | class)`` with a standard normal base.

    Parameters
    ----------
    n_features : int
        Dimension ``d`` of ``w`` (one per K_M; 259 for E. coli).
    transforms : int
        Number of coupling transforms (0: the identity, ``w`` itself is the base noise).
    hidden : int
        Units of each hidden layer of the conditioners.
    layers : int
        Hidden layers per conditioner.
    """

    def __init__(self, n_features: int, transforms: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.n_features = int(n_features)
        self.transforms = int(transforms)
        self.flow = (
            zuko.flows.MAF(
                features=self.n_features,
                context=N_CLASSES,
                transforms=self.transforms,
                hidden_features=[int(hidden)] * int(layers),
                passes=2,
                randperm=False,
            )
            if self.transforms > 0
            else None
        )
        if self.flow is not None:
            # last layer of every conditioner at zero: each transform starts as the identity,
            # so training starts from the Gaussian copula and can only move away from it
            # where held-out likelihood improves
            for transform in self.flow.transform.transforms:
                last = transform.hyper[-1]
                torch.nn.init.zeros_(last.weight)
                torch.nn.init.zeros_(last.bias)

    @staticmethod
    def context(labels: torch.Tensor) -> torch.Tensor:
        """Class indices (n,) → one-hot context (n, 2)."""
        return torch.nn.functional.one_hot(labels.long(), N_CLASSES).to(torch.get_default_dtype())

    def log_prob(self, w: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``ln p(w | class)`` per row, shape (n,); ``w`` (n, d), ``labels`` (n,) indices."""
        if self.flow is None:
            return torch.distributions.Normal(0.0, 1.0).log_prob(w).sum(-1)
        return self.flow(self.context(labels)).log_prob(w)

    def sample(self, labels: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Map base noise (n, d) through the inverse flow of each row's class → ``w`` (n, d).

        Sampling from given noise keeps generation a pure function of a seeded
        ``torch.Generator``.
        """
        if self.flow is None:
            return noise
        return self.flow(self.context(labels)).transform.inv(noise)
