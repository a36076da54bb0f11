"""Fidelity of generated kinetic models: are they as diverse as the data they imitate?

A generator can reach a high incidence of relevant models by generating a narrow corner
of parameter space. The incidence alone cannot tell; these diagnostics compare generated
relevant-class models with the relevant ORACLE models they were trained to imitate.

=========================  ===================================================================
statistic                  what it measures
=========================  ===================================================================
``spread_ratio``           median over the K_M of std(ln K_M generated) / std(ln K_M data):
                           1 = as wide as the data, → 0 = collapsed (width of the marginals)
``iqr_ratio``              likewise with the interquartile range (robust to tails)
``c2st``                   classifier two-sample test: held-out accuracy of a classifier
                           told to separate generated from held-out data (0.5 =
                           indistinguishable, 1 = always told apart; sees the *joint*
                           distribution: widths, shifts, correlations)
``c2st_noise_floor``       the same test between two halves of the ORACLE data: what 0.5
                           looks like at this sample size
``ks_max_eig``             Kolmogorov–Smirnov distance between the max Re(λ) distributions
                           (0 = identical, 1 = disjoint): are the dynamics as diverse?
``kl_marginals``           rekindle's KL: mean over K_M of the histogram KL(generated ‖
                           data) of each marginal of ln K_M (sees width and shape of every
                           marginal, not correlations; see :mod:`rekindle.gan.monitoring`)
``kl_means``               the paper's KL: KL between the histograms of the d per-feature
                           *means* of the two populations; blind to width (a generator that
                           outputs every mean with zero spread scores 0)
=========================  ===================================================================

The classifier of the C2ST is a small multilayer perceptron (two hidden ReLU layers of
``hidden`` units, Adam, binary cross-entropy) trained on standardised ln K_M with
``folds``-fold cross-validation on class-balanced samples: the reported accuracy is the mean
held-out accuracy over the folds (Lopez-Paz & Oquab, ICLR 2017; the standard check of
simulation-based inference). A linear classifier could not see a change of width alone, hence
the hidden layers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import stats

from rekindle.gan.monitoring import kl_divergence, means_kl

__all__ = [
    "FidelityReport",
    "c2st",
    "c2st_noise_floor",
    "fidelity_report",
    "iqr_ratios",
    "ks_distance",
    "means_kl",
    "width_ratios",
]


def _log_rows(km: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(km, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError(f"{name} must have shape (n >= 2, d), got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must hold finite positive K_M")
    return np.log(arr)


def iqr_ratios(km: np.ndarray, reference_km: np.ndarray) -> np.ndarray:
    """Per-feature IQR(ln K_M generated) / IQR(ln K_M reference).

    Parameters
    ----------
    km, reference_km : numpy.ndarray, shapes (n, d) and (m, d)
        Positive K_M (any one unit) of the generated and reference models.

    Returns
    -------
    numpy.ndarray, shape (d,)
        1 where the generated interquartile range equals the data's; NaN where the
        reference has none.
    """
    gen, ref = _log_rows(km, "km"), _log_rows(reference_km, "reference_km")
    q_gen = np.subtract(*np.percentile(gen, [75, 25], axis=0))
    q_ref = np.subtract(*np.percentile(ref, [75, 25], axis=0))
    return np.where(q_ref > 0, q_gen / np.where(q_ref > 0, q_ref, 1.0), np.nan)


def width_ratios(km: np.ndarray, reference_km: np.ndarray) -> tuple[float, float]:
    """Median spread (std) and IQR ratios of ln K_M against a reference population.

    Parameters
    ----------
    km, reference_km : numpy.ndarray, shapes (n, d) and (m, d)
        Positive K_M of the generated and reference (relevant training) models.

    Returns
    -------
    spread_ratio, iqr_ratio : float
        Medians over the features of :func:`rekindle.gan.monitoring.spread_ratios` and
        :func:`iqr_ratios`.
    """
    return _log_width_ratios(_log_rows(km, "km"), _log_rows(reference_km, "reference_km"))


def _log_width_ratios(gen_log: np.ndarray, ref_log: np.ndarray) -> tuple[float, float]:
    """:func:`width_ratios` from ln K_M ``(n, d)`` and ``(m, d)`` already taken (the same
    numbers; the caller's logs are reused instead of taken again)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ref_std = np.std(ref_log, axis=0)
        gen_std = np.std(gen_log, axis=0)
        spread = np.where(ref_std > 0, gen_std / np.where(ref_std > 0, ref_std, 1.0), np.nan)
    q_gen = np.subtract(*np.percentile(gen_log, [75, 25], axis=0))
    q_ref = np.subtract(*np.percentile(ref_log, [75, 25], axis=0))
    iqr = np.where(q_ref > 0, q_gen / np.where(q_ref > 0, q_ref, 1.0), np.nan)
    return float(np.nanmedian(spread)), float(np.nanmedian(iqr))


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov distance sup |F_a − F_b| in [0, 1].

    NaN values (eigenvalues not computed) are dropped; ±inf are kept (they sort to the
    ends). NaN when either sample is empty.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        return math.nan
    return float(stats.ks_2samp(a, b).statistic)


class _Classifier(torch.nn.Module):
    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(d, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def _fold_accuracy(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    hidden: int,
    epochs: int,
    seed: int,
) -> float:
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    xt = torch.as_tensor((x_train - mean) / std, dtype=torch.float32)
    yt = torch.as_tensor(y_train, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    clf = _Classifier(xt.shape[1], hidden)
    opt = torch.optim.Adam(clf.parameters(), lr=3e-3, weight_decay=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    batch = 256
    for _ in range(epochs):
        perm = torch.randperm(xt.shape[0], generator=gen)
        for start in range(0, xt.shape[0], batch):
            idx = perm[start : start + batch]
            opt.zero_grad()
            loss_fn(clf(xt[idx]), yt[idx]).backward()
            opt.step()
    with torch.no_grad():
        logits = clf(torch.as_tensor((x_test - mean) / std, dtype=torch.float32)).numpy()
    return float(np.mean((logits > 0) == (y_test > 0.5)))


def c2st(
    x: np.ndarray,
    y: np.ndarray,
    *,
    folds: int = 5,
    hidden: int = 64,
    epochs: int = 20,
    seed: int = 0,
    max_samples: int | None = 5000,
) -> float:
    """Classifier two-sample test: held-out accuracy of telling ``x`` from ``y``.

    Parameters
    ----------
    x, y : numpy.ndarray, shapes (n_x, d) and (n_y, d)
        Two samples in one feature space (here ln K_M); standardised inside each fold
        by the training part's mean and std.
    folds : int
        Cross-validation folds (>= 2); every row is tested exactly once.
    hidden : int
        Units in each of the two hidden layers of the classifier.
    epochs : int
        Passes over the training part (mini-batches of 256, Adam, lr 3e-3).
    seed : int
        Seed of the subsampling, the folds and the classifier.
    max_samples : int or None
        Use at most this many rows of each sample (both are cut to the smaller size so
        that the classes are balanced and chance is 0.5).

    Returns
    -------
    float
        Mean held-out accuracy in [0, 1]: 0.5 = indistinguishable, 1 = separable.
    """
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xa.ndim != 2 or ya.ndim != 2 or xa.shape[1] != ya.shape[1]:
        raise ValueError(f"x and y must be (n, d) with one d, got {xa.shape} and {ya.shape}")
    if folds < 2:
        raise ValueError("folds must be >= 2")
    rng = np.random.default_rng(seed)
    n = min(xa.shape[0], ya.shape[0], max_samples or max(xa.shape[0], ya.shape[0]))
    if n < folds:
        raise ValueError(f"need at least {folds} rows per sample, got {n}")
    xa = xa[rng.choice(xa.shape[0], n, replace=False)]
    ya = ya[rng.choice(ya.shape[0], n, replace=False)]
    data = np.concatenate([xa, ya])
    target = np.concatenate([np.zeros(n), np.ones(n)])
    fold_of = rng.permutation(2 * n) % folds
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is faster than several contending
    try:
        accuracies = [
            _fold_accuracy(
                data[fold_of != k],
                target[fold_of != k],
                data[fold_of == k],
                target[fold_of == k],
                hidden=hidden,
                epochs=epochs,
                seed=seed + k,
            )
            for k in range(folds)
        ]
    finally:
        torch.set_num_threads(threads)
    return float(np.mean(accuracies))


def c2st_noise_floor(reference: np.ndarray, n: int, *, seed: int = 0, **kwargs) -> float:
    """C2ST between two disjoint halves of ``reference`` of ``n`` rows each.

    What a perfect generator would score with ``n`` samples (about 0.5 plus the noise of
    a finite test). ``kwargs`` go to :func:`c2st`.
    """
    ref = np.asarray(reference)
    n = min(int(n), ref.shape[0] // 2)
    perm = np.random.default_rng(seed + 1).permutation(ref.shape[0])
    return c2st(ref[perm[:n]], ref[perm[n : 2 * n]], seed=seed, **kwargs)


@dataclass(frozen=True)
class FidelityReport:
    """Fidelity of generated relevant-class models against relevant ORACLE models.

    Attributes
    ----------
    spread_ratio_generated, iqr_ratio_generated
        Median width ratios of ln K_M against the relevant training sets (1 = as wide).
    c2st_generated
        C2ST accuracy, generated vs held-out relevant ORACLE sets (0.5 = indistinguishable).
    c2st_noise_floor
        C2ST accuracy between two halves of the held-out relevant ORACLE sets.
    ks_max_eig
        KS distance between the max Re(λ) of generated and relevant ORACLE models (NaN
        when eigenvalues are not given).
    kl_marginals
        rekindle's KL(generated ‖ training relevant): mean over K_M of the histogram KL of
        each marginal of ln K_M (sees width).
    kl_means
        The paper's KL: between histograms of the per-K_M means (blind to width).
    n_generated, n_reference, n_c2st
        Rows compared (generated; training reference; per side of each C2ST).
    """

    spread_ratio_generated: float
    iqr_ratio_generated: float
    c2st_generated: float
    c2st_noise_floor: float
    ks_max_eig: float
    kl_marginals: float
    kl_means: float
    n_generated: int
    n_reference: int
    n_c2st: int

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict (keys as in the run summary)."""
        return asdict(self)


def fidelity_report(
    generated_km: np.ndarray,
    reference_km: np.ndarray,
    heldout_km: np.ndarray,
    *,
    generated_max_eig: np.ndarray | None = None,
    reference_max_eig: np.ndarray | None = None,
    n_c2st: int = 3000,
    seed: int = 0,
) -> FidelityReport:
    """Every fidelity statistic of the module for one generated population.

    Parameters
    ----------
    generated_km : numpy.ndarray, shape (n, d)
        K_M of generated relevant-class models.
    reference_km : numpy.ndarray, shape (m, d)
        K_M of the relevant training (ORACLE) models: width and KL reference.
    heldout_km : numpy.ndarray, shape (h, d)
        K_M of relevant ORACLE models the generator never saw: C2ST reference. The noise
        floor splits it in two halves, so the C2ST uses ``min(n_c2st, n, h // 2)`` rows
        per side in both tests.
    generated_max_eig, reference_max_eig : numpy.ndarray, optional
        max Re(λ) (1/h) of the generated and of relevant ORACLE models, for the KS distance.
    n_c2st : int
        Upper bound on the rows per side of each C2ST.
    seed : int
        Seed of the C2ST subsampling and classifiers.

    Returns
    -------
    FidelityReport
    """
    gen_log = _log_rows(generated_km, "generated_km")
    ref_log = _log_rows(reference_km, "reference_km")
    held_log = _log_rows(heldout_km, "heldout_km")
    spread, iqr = _log_width_ratios(gen_log, ref_log)
    n = min(int(n_c2st), gen_log.shape[0], held_log.shape[0] // 2)
    floor = c2st_noise_floor(held_log, n, seed=seed)
    accuracy = c2st(gen_log, held_log, seed=seed, max_samples=n)
    ks = (
        ks_distance(generated_max_eig, reference_max_eig)
        if generated_max_eig is not None and reference_max_eig is not None
        else math.nan
    )
    return FidelityReport(
        spread_ratio_generated=spread,
        iqr_ratio_generated=iqr,
        c2st_generated=accuracy,
        c2st_noise_floor=floor,
        ks_max_eig=ks,
        kl_marginals=kl_divergence(gen_log, ref_log),
        kl_means=means_kl(gen_log, ref_log),
        n_generated=int(gen_log.shape[0]),
        n_reference=int(ref_log.shape[0]),
        n_c2st=int(n),
    )
