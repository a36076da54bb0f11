"""Transfer of a fitted flow generator to another physiology from few target sets.

The flow generator is a per-class Gaussian copula (marginal CDFs of the saturation features
``y = 2σ − 1`` and the covariance of their normal scores, :mod:`rekindle.flow.marginals`)
under an optional learnt coupling flow. Its fixed maps are counted, not trained, so the
flow's counterpart of fine-tuning a cGAN on ``n`` target sets (REKINDLE Fig. 4) is a
posterior estimate with the source as the prior:

- **marginals** re-fitted to the target: per class, the target's histogram counts, smoothed
  by a Gaussian kernel of Silverman's bandwidth (a few sets on 1024 bins would otherwise be
  a comb of spikes that generation copies), plus ``prior_sets`` pseudo-sets distributed as
  the source's class marginal (:func:`marginals_with_prior`);
- **dependence** kept from the source: per class, the target's normal scores under those
  marginals pooled with ``copula_prior_sets`` pseudo-sets that have the source class's mean
  and covariance (:func:`copula_with_prior`; the conjugate normal–inverse-Wishart update
  with the source as the prior mean);
- the learnt coupling flow, when there is one, is kept.

Features are taken at the *target* reference concentrations (``y = 2σ − 1`` of the target's
own steady state), where ORACLE samples every saturation uniformly at every physiology: the
class structure in saturation space is what carries over from the source.

:func:`scratch_flow` is the from-scratch comparison: the same estimator with a
non-informative prior of the same weights (uniform saturations, independent scores), so
that the two differ only in what the source knows. The relevance guide of the source is not
carried over (it classifies at the source physiology); a transferred flow draws from its
class-conditional copula.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from rekindle.features import encode_labels

from .config import FlowConfig
from .marginals import MarginalScores, Whitening
from .model import KineticFlow
from .modules import N_CLASSES, ConditionalFlow

#: pseudo-count per histogram bin on top of the prior (keeps the CDF strictly increasing;
#: negligible against ``prior_sets`` spread over the bins)
PRIOR_ALPHA = 1e-3
#: default prior weights, in sets per class (those of ``TransferSettings``)
DEFAULT_PRIOR_SETS = 100.0
DEFAULT_COPULA_PRIOR_SETS = 1000.0


def marginals_with_prior(
    y: np.ndarray,
    labels: np.ndarray,
    prior_pmf: np.ndarray,
    prior_sets: float,
) -> MarginalScores:
    """Per-class marginal CDFs of target features with a prior worth ``prior_sets`` sets.

    Parameters
    ----------
    y : numpy.ndarray, shape (n, d)
        Target features ``2σ − 1`` in (−1, 1).
    labels : numpy.ndarray of int, shape (n,)
        Class index of each row (0 relevant, 1 not relevant).
    prior_pmf : numpy.ndarray, shape (n_classes, d, bins)
        Prior probability of each histogram bin (rows sum to 1).
    prior_sets : float
        Weight of the prior in sets per class (> 0).

    Returns
    -------
    MarginalScores
        Finalised: bin mass ``smoothed counts + prior_sets · prior_pmf + PRIOR_ALPHA``.
    """
    n_classes, d, bins = prior_pmf.shape
    marg = MarginalScores(n_classes, d, bins, alpha=PRIOR_ALPHA)
    if y.shape[0]:
        marg.update(y, labels)
        marg.counts = smooth_counts(marg.counts, y, labels)
    marg.counts += prior_sets * prior_pmf
    return marg.finalize()


def smooth_counts(counts: np.ndarray, y: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Histogram counts convolved with a Gaussian kernel of Silverman's bandwidth.

    ``h = 0.9 · min(s, IQR/1.34) · n^(−1/5)`` per (class, feature) from its ``n`` rows
    (Silverman 1986, *Density Estimation*, eq. 3.31), reflected at ±1 so that no mass is lost.

    Parameters
    ----------
    counts : numpy.ndarray, shape (n_classes, d, bins)
        Histogram counts of ``y`` on equal bins of (−1, 1).
    y : numpy.ndarray, shape (n, d)
        The counted rows.
    labels : numpy.ndarray of int, shape (n,)
        Their classes.

    Returns
    -------
    numpy.ndarray, shape (n_classes, d, bins)
        Smoothed counts, the same total per (class, feature).
    """
    n_classes, d, bins = counts.shape
    out = counts.copy()
    for c in range(n_classes):
        rows = y[labels == c]
        if rows.shape[0] < 2:
            continue
        q75, q25 = np.percentile(rows, [75, 25], axis=0)
        spread = np.minimum(rows.std(axis=0, ddof=1), (q75 - q25) / 1.34)
        spread = np.where(spread > 0, spread, rows.std(axis=0, ddof=1))
        h = 0.9 * spread * rows.shape[0] ** -0.2  # in units of y
        for j in range(d):
            if h[j] > 0:
                out[c, j] = gaussian_filter1d(counts[c, j], h[j] * bins / 2.0, mode="reflect")
    return out


def copula_with_prior(
    scores: np.ndarray,
    labels: np.ndarray,
    prior_mean: np.ndarray,
    prior_cov: np.ndarray,
    prior_sets: float,
) -> Whitening:
    """Per-class mean and covariance of normal scores pooled with a prior of ``prior_sets``
    pseudo-sets.

    The pseudo-sets enter the sums as rows with mean ``prior_mean[c]`` and covariance
    ``prior_cov[c]``: ``Σ_c = (S_c + k (Σ₀ + μ₀μ₀ᵀ)) / (n_c + k) − μ_c μ_cᵀ`` (with the
    unbiased ``(n + k)/(n + k − 1)`` factor of :meth:`Whitening.finalize`).

    Parameters
    ----------
    scores : numpy.ndarray, shape (n, d)
        Normal scores of the target rows under the target's marginals.
    labels : numpy.ndarray of int, shape (n,)
        Class index of each row.
    prior_mean : numpy.ndarray, shape (n_classes, d)
        Prior mean of the scores per class.
    prior_cov : numpy.ndarray, shape (n_classes, d, d)
        Prior covariance per class.
    prior_sets : float
        Weight of the prior in sets per class (≥ 2: every class then has a covariance).

    Returns
    -------
    Whitening
        Finalised.
    """
    n_classes, d = prior_mean.shape
    whit = Whitening(n_classes, d)
    if scores.shape[0]:
        whit.update(scores, labels)
    whit.n += prior_sets
    whit.sum += prior_sets * prior_mean
    whit.outer += prior_sets * (prior_cov + prior_mean[:, :, None] * prior_mean[:, None, :])
    return whit.finalize()


def _check_weights(prior_sets: float, copula_prior_sets: float) -> None:
    if not (np.isfinite(prior_sets) and prior_sets > 0):
        raise ValueError(f"prior_sets must be a finite number > 0, got {prior_sets}")
    if not (np.isfinite(copula_prior_sets) and copula_prior_sets >= 2):
        raise ValueError(f"copula_prior_sets must be a finite number >= 2, got {copula_prior_sets}")


def _fit_with_prior(
    flow: KineticFlow,
    km: np.ndarray,
    relevant: np.ndarray,
    prior_pmf: np.ndarray,
    prior_mean: np.ndarray,
    prior_cov: np.ndarray,
    prior_sets: float,
    copula_prior_sets: float,
) -> KineticFlow:
    """Set ``flow``'s marginals and copula from the target rows and a prior."""
    km = np.asarray(km, dtype=np.float64)
    labels = encode_labels(np.asarray(relevant, dtype=bool))
    if km.ndim != 2 or km.shape[1] != flow.n_features or labels.shape[0] != km.shape[0]:
        raise ValueError(
            f"km must have shape (n, {flow.n_features}) with one label per row, got "
            f"{km.shape} and {labels.shape}"
        )
    y = flow.scaler.transform(km) if km.shape[0] else np.empty((0, flow.n_features))
    flow.marginals = marginals_with_prior(y, labels, prior_pmf, prior_sets)
    scores = flow.marginals.to_scores(y, labels) if y.shape[0] else y
    flow.whitening = copula_with_prior(scores, labels, prior_mean, prior_cov, copula_prior_sets)
    counts = np.bincount(labels, minlength=N_CLASSES)
    flow.training_summary = {
        "n_train": int(km.shape[0]),
        "n_relevant_train": int(counts[0]),
        "prior_sets": float(prior_sets),
        "copula_prior_sets": float(copula_prior_sets),
        "steps": 0,
    }
    return flow


def transfer_flow(
    source: KineticFlow,
    km: np.ndarray,
    relevant: np.ndarray,
    reference: np.ndarray,
    metadata: Mapping[str, Any] | None = None,
    *,
    prior_sets: float = DEFAULT_PRIOR_SETS,
    copula_prior_sets: float = DEFAULT_COPULA_PRIOR_SETS,
) -> KineticFlow:
    """A flow for a target physiology: ``source``'s class structure updated by target sets.

    Parameters
    ----------
    source : KineticFlow
        A fitted flow of the source physiology (left unchanged).
    km : numpy.ndarray, shape (n, d)
        K_M (µM) of the target's ORACLE sets (``n`` may be 0: the source's structure alone,
        re-referenced).
    relevant : numpy.ndarray of bool, shape (n,)
        Their engine labels at the target physiology.
    reference : numpy.ndarray, shape (d,)
        Reference concentration (µM) of each K_M's metabolite at the *target* physiology.
    metadata : mapping, optional
        Entries replacing the source's (``physiology`` … of the target).
    prior_sets, copula_prior_sets : float
        Weights of the source's marginals and dependence, in sets per class.

    Returns
    -------
    KineticFlow
        Unguided; its ``training_summary`` records the rows and weights.

    Raises
    ------
    ValueError
        If ``source`` is not fitted, shapes disagree or a weight is out of range.
    """
    _check_weights(prior_sets, copula_prior_sets)
    if source.flow is None or source.marginals is None or source.whitening is None:
        raise ValueError("the source flow is not fitted")
    assert source.marginals.cdf is not None and source.whitening.cholesky is not None
    assert source.whitening.mean is not None
    kept = ("physiology", "training_data")
    origin = {k: source.metadata[k] for k in kept if k in source.metadata}
    meta = {**source.metadata, **dict(metadata or {}), "transferred_from": origin}
    flow = KineticFlow(reference, source.feature_names, meta, source.config)
    flow.flow = source.flow  # the learnt coupling flow, shared read-only (eval mode)
    chol = source.whitening.cholesky
    return _fit_with_prior(
        flow,
        km,
        relevant,
        np.diff(source.marginals.cdf, axis=2),
        source.whitening.mean,
        chol @ np.swapaxes(chol, 1, 2),
        prior_sets,
        copula_prior_sets,
    )


def scratch_flow(
    km: np.ndarray,
    relevant: np.ndarray,
    reference: np.ndarray,
    feature_names: Sequence[str],
    metadata: Mapping[str, Any] | None = None,
    *,
    config: FlowConfig | None = None,
    prior_sets: float = DEFAULT_PRIOR_SETS,
    copula_prior_sets: float = DEFAULT_COPULA_PRIOR_SETS,
) -> KineticFlow:
    """The from-scratch counterpart of :func:`transfer_flow`: a non-informative prior.

    Uniform saturations (ORACLE's own marginal) and independent standard normal scores, with
    the same weights as the transfer, so that only the source's knowledge differs.

    Parameters
    ----------
    km, relevant, reference, metadata, prior_sets, copula_prior_sets
        As :func:`transfer_flow`.
    feature_names : sequence of str
        Name of each K_M.
    config : FlowConfig, optional
        Histogram bins (``bins``) and settings recorded; no coupling transform is learnt.

    Returns
    -------
    KineticFlow
        Unguided.
    """
    _check_weights(prior_sets, copula_prior_sets)
    config = (config or FlowConfig()).replace(transforms=0)
    d = len(feature_names)
    flow = KineticFlow(reference, feature_names, metadata, config)
    flow.flow = ConditionalFlow(d, 0, config.hidden, config.layers).eval()
    pmf = np.full((N_CLASSES, d, config.bins), 1.0 / config.bins)
    eye = np.broadcast_to(np.eye(d), (N_CLASSES, d, d))
    return _fit_with_prior(
        flow, km, relevant, pmf, np.zeros((N_CLASSES, d)), eye, prior_sets, copula_prior_sets
    )
