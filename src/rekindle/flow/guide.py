"""Relevance guide of the flow generator: a classifier ``c(y) ≈ P(relevant | y)``.

Why
---
ORACLE draws every K_M saturation independently; what makes a model *relevant* (max Re(λ)
of its Jacobian below the threshold) is a property of the whole set. A class-conditional
copula reproduces every marginal and pairwise dependence of the relevant sets, yet only
76 % of its output is relevant (independent marginals: 71 %), and learnt coupling layers
did not raise that even on 2·10⁶ sets (README, learning curve): the joint structure that
decides relevance is a sharp, high-order function of the K_M, learnt far more easily
as a classifier than as a density.

Bayes' rule turns such a classifier into a generator without giving up fidelity::

    p(y | relevant) = p(y) · P(relevant | y) / P(relevant)

so drawing ``y`` from the flow's model of *all* data, ``p(y) = Σ_c π_c p(y | c)``, and
keeping it with probability ``c(y)`` samples ``p(y | relevant)`` exactly when ``c`` is the
true conditional probability (rejection sampling with bound ``1/P(relevant)``; the share
kept is ``P(relevant)``). Nothing narrows the class: where ``c`` is calibrated, the output
has the width of the class in the data, and with a perfect classifier every output model
is relevant. ``power > 1`` (keeping with ``c^power``) trades fidelity for incidence, a
knob like a GAN's truncation, recorded in every output.

The network (:class:`RelevanceNet`, ``torch.nn`` only) reads the saturation features
``y = 2σ − 1`` and has two heads: the relevance logit (binary cross-entropy) and, as an
auxiliary target, the stability margin ``asinh(λ_max / |threshold|)`` with a Gaussian
likelihood (the eigenvalue carries more information per set than its label). The state
with the lowest held-out cross-entropy is kept (a proper scoring rule: it rewards
calibration, not just accuracy), and one temperature fitted on the held-out rows
calibrates the logit (Guo et al., ICML 2017, "On calibration of modern neural networks").
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch

from .config import GuideConfig

#: rows per forward pass when scoring (bounds memory)
_SCORE_ROWS = 65_536

#: training rows whose encoded tensors (float32 features, label, margin) fit in this many
#: bytes are read and encoded once and kept for every pass (E. coli default: 480 000 rows,
#: 0.5 GB; re-reading them from the file cost 2.5 s a pass, 30 s of 12 passes); larger
#: sources are streamed chunk by chunk on every pass. The steps see the same numbers either
#: way (tests/flow/test_guide.py)
GUIDE_CACHE_BYTES = 1 << 30


class RelevanceNet(torch.nn.Module):
    """MLP ``y (n, d) → (logit, μ, ln s)``, each of shape (n,).

    ``logit`` is the log-odds of relevance; ``μ`` and ``s`` the mean and spread of the
    predicted ``asinh(λ_max / |threshold|)`` (auxiliary head).

    Parameters
    ----------
    n_features : int
        Number of K_M (259 for E. coli).
    hidden, layers : int
        Width and depth of the trunk.
    dropout : float
        Dropout after each hidden layer (active in training mode only).
    """

    def __init__(self, n_features: int, hidden: int, layers: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_features = int(n_features)
        blocks: list[torch.nn.Module] = []
        width = int(n_features)
        for _ in range(int(layers)):
            blocks += [torch.nn.Linear(width, int(hidden)), torch.nn.SiLU()]
            if dropout > 0:
                blocks.append(torch.nn.Dropout(float(dropout)))
            width = int(hidden)
        self.trunk = torch.nn.Sequential(*blocks)
        self.head = torch.nn.Linear(width, 3)

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # the first layer reads the features in float32 even under autocast: rounded to
        # bfloat16's 8-bit mantissa, y = 2σ − 1 loses the resolution a sharp class boundary
        # needs (E. coli, default run, seed 0: held-out cross-entropy 0.3260 with it in
        # bfloat16, 0.3215 in float32, 0.3207 all float32; docs/science/memgen.md)
        with torch.autocast(y.device.type, enabled=False):
            h = self.trunk[0](y)
        out = self.head(self.trunk[1:](h))
        return out[:, 0], out[:, 1], out[:, 2].clamp(-5.0, 3.0)


class LabelledSource(Protocol):
    """Rows with K_M, labels and max Re(λ) (see :mod:`rekindle.flow.training`)."""

    n_rows: int

    def read_labelled(
        self, start: int, stop: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


class RelevanceGuide:
    """A trained :class:`RelevanceNet` with its calibration temperature.

    Parameters
    ----------
    net : RelevanceNet
        The classifier.
    temperature : float
        The logit is divided by it (fitted on held-out rows).
    config : GuideConfig
        The settings it was trained with (``power`` is read at generation).
    summary : dict, optional
        Training summary (held-out accuracy, cross-entropy, expected incidence …).
    """

    def __init__(
        self,
        net: RelevanceNet,
        temperature: float,
        config: GuideConfig,
        summary: dict[str, Any] | None = None,
    ) -> None:
        self.net = net.eval()
        self.temperature = float(temperature)
        self.config = config
        self.summary = dict(summary or {})

    @torch.no_grad()
    def logits(self, y: np.ndarray) -> np.ndarray:
        """Calibrated log-odds of relevance, shape (n,), for features ``y`` (n, d)."""
        self.net.eval()
        yt = torch.as_tensor(np.asarray(y), dtype=torch.float32)
        out = [self.net(yt[i : i + _SCORE_ROWS])[0] for i in range(0, yt.shape[0], _SCORE_ROWS)]
        return (torch.cat(out).double() / self.temperature).numpy() if out else np.empty(0)

    def prob_relevant(self, y: np.ndarray) -> np.ndarray:
        """``c(y) ≈ P(relevant | y)``, shape (n,), for features ``y = 2σ − 1`` (n, d)."""
        return 1.0 / (1.0 + np.exp(-self.logits(y)))

    def acceptance(self, y: np.ndarray, class_index: int, power: float | None = None) -> np.ndarray:
        """Probability of keeping each row of ``y`` for class 0 (relevant) or 1, shape (n,)."""
        c = self.prob_relevant(y)
        p = c if class_index == 0 else 1.0 - c
        return p ** (self.config.power if power is None else float(power))

    def to_payload(self) -> dict[str, Any]:
        """Tensors and plain values for ``torch.save(weights_only=True)``."""
        return {
            "config": self.config.to_dict(),
            "n_features": self.net.n_features,
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
            "temperature": self.temperature,
            "summary": self.summary,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> RelevanceGuide:
        """Inverse of :meth:`to_payload`."""
        # guides saved before the precision setting existed were trained in float32
        config = GuideConfig.from_dict({"bfloat16_share": 0.0, **payload["config"]})
        net = RelevanceNet(int(payload["n_features"]), config.hidden, config.layers, config.dropout)
        net.load_state_dict(payload["state_dict"])
        return cls(net, float(payload["temperature"]), config, payload.get("summary"))


def stability_margin(max_eig: np.ndarray, threshold: float) -> np.ndarray:
    """Auxiliary target ``asinh(λ_max / |threshold|)`` (NaN where λ is unknown), shape (n,).

    A class bounded at 0 h⁻¹ (``max_eig < 0``) has no scale of its own: 1 h⁻¹ is used.
    """
    scale = abs(float(threshold)) or 1.0
    return np.arcsinh(np.asarray(max_eig, dtype=np.float64) / scale)


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (oneDNN's check: AVX-512 BF16
    or AMX). Without, PyTorch emulates the products: one step of the former default guide
    (259 → 512 × 3, batch 1 024, one thread) took 1 011–1 015 ms under bfloat16 autocast
    against 51–52 ms in float32 on an AMD EPYC with AVX2 only (``benchmarks/bench_bfloat16.py``;
    docs/science/memgen.md)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False


def fit_guide(
    source: LabelledSource,
    to_y: Callable[[np.ndarray], np.ndarray],
    rows: tuple[int, int],
    threshold: float,
    config: GuideConfig,
    *,
    log: Callable[[str], None] = lambda _msg: None,
) -> RelevanceGuide:
    """Train the relevance guide on a source's rows (streamed chunk by chunk).

    Parameters
    ----------
    source : LabelledSource
        Rows ``0:n_train`` train, ``n_train:n_total`` are held out.
    to_y : callable
        K_M (n, d) in µM → features ``2σ − 1`` (n, d).
    rows : (int, int)
        ``(n_train, n_total)``.
    threshold : float
        Relevance threshold of the labels, 1/h (scales the auxiliary target).
    config : GuideConfig
        Settings.
    log : callable
        One line per evaluation.

    Returns
    -------
    RelevanceGuide
    """
    t0 = time.perf_counter()
    n_train, n_total = rows
    y_val, rel_val, _ = _encode(source.read_labelled(n_train, n_total), to_y, threshold)
    if y_val.shape[0] == 0 or n_train < 2 or n_train > source.n_rows:
        raise ValueError(f"too few rows to train the relevance guide: {n_train}")
    torch.manual_seed(config.seed)
    net = RelevanceNet(y_val.shape[1], config.hidden, config.layers, config.dropout)
    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        history, best, mixed_steps = _train(
            net, source, to_y, n_train, threshold, (y_val, rel_val), config, log
        )
    finally:
        torch.set_num_threads(threads)
    net.load_state_dict(best)
    guide = RelevanceGuide(net, 1.0, config)
    rel = rel_val.numpy().astype(bool)
    guide.temperature = _fit_temperature(guide.logits(y_val), rel)
    z = guide.logits(y_val)
    guide.summary = {
        "n_train": n_train,
        "n_validation": n_total - n_train,
        "steps": config.steps_for(n_train),
        "bfloat16_steps": mixed_steps,
        "best_step": int(min(history, key=lambda h: h["validation_bce"])["step"]),
        "temperature": guide.temperature,
        **_held_out_scores(z, rel),
        "power_max_likelihood": likelihood_optimal_power(z, rel),
        "seconds": time.perf_counter() - t0,
        "history": history,
    }
    return guide


def mixed_precision_steps(config: GuideConfig, n_steps: int) -> int:
    """The first steps of ``n_steps`` trained in mixed precision: ``config.bfloat16_share``
    of them where the CPU has native bfloat16 (:func:`native_bfloat16`), else none."""
    return round(config.bfloat16_share * n_steps) if native_bfloat16() else 0


def _encode(
    chunk: tuple[np.ndarray, np.ndarray, np.ndarray],
    to_y: Callable[[np.ndarray], np.ndarray],
    threshold: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    km, relevant, max_eig = chunk
    return (
        torch.as_tensor(to_y(km), dtype=torch.float32),
        torch.as_tensor(np.asarray(relevant, dtype=np.float32)),
        torch.as_tensor(stability_margin(max_eig, threshold), dtype=torch.float32),
    )


def likelihood_optimal_power(logits: np.ndarray, relevant: np.ndarray) -> float:
    """The power β whose generated class, ``p(y) c(y)^β / Z_β``, gives held-out relevant sets
    the highest likelihood.

    Over held-out rows ``y ~ p`` with labels, the mean log-likelihood of the relevant ones is,
    up to a β-free term, ``β·E_rel[ln c] − ln E_p[c^β]``: a proper score, so sharpening
    (β > 1) cannot win it unless the guide is under-confident. A calibrated guide gives β ≈ 1
    (Bayes' rule); the value is a diagnostic of the guide, recorded in its summary.

    Parameters
    ----------
    logits : numpy.ndarray, shape (n,)
        Calibrated log-odds of the held-out rows.
    relevant : numpy.ndarray of bool, shape (n,)
        Their labels.

    Returns
    -------
    float
        β in [0.1, 10].
    """
    log_c = -np.logaddexp(0.0, -np.asarray(logits, dtype=np.float64))
    rel = np.asarray(relevant, dtype=bool)
    if not rel.any():
        return math.nan
    mean_rel = float(log_c[rel].mean())

    def negative_log_likelihood(beta: float) -> float:
        b = beta * log_c
        top = float(b.max())
        return -beta * mean_rel + top + math.log(float(np.mean(np.exp(b - top))))

    from scipy.optimize import minimize_scalar  # here: scipy.optimize costs `generate` 0.3 s

    res = minimize_scalar(negative_log_likelihood, bounds=(0.1, 10.0), method="bounded")
    return float(res.x)


def _bce(logits: np.ndarray, relevant: np.ndarray) -> float:
    """Mean binary cross-entropy (nats) of log-odds against 0/1 labels."""
    z = np.asarray(logits, dtype=np.float64)
    return float(np.mean(np.logaddexp(0.0, z) - np.asarray(relevant, dtype=np.float64) * z))


def _fit_temperature(logits: np.ndarray, relevant: np.ndarray) -> float:
    """The temperature ``T`` minimising the cross-entropy of ``logits / T`` (bounded search)."""
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(
        lambda log_t: _bce(logits / math.exp(log_t), relevant),
        bounds=(math.log(0.2), math.log(5.0)),
        method="bounded",
    )
    return float(math.exp(res.x))


def _loss(
    net: RelevanceNet, y: torch.Tensor, rel: torch.Tensor, margin: torch.Tensor, weight: float
) -> torch.Tensor:
    logit, mu, log_s = (t.float() for t in net(y))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, rel)
    known = torch.isfinite(margin)
    if weight > 0 and bool(known.any()):
        z = (margin[known] - mu[known]) / log_s[known].exp()
        loss = loss + weight * (0.5 * z**2 + log_s[known]).mean()
    return loss


def _train(
    net: RelevanceNet,
    source: LabelledSource,
    to_y: Callable[[np.ndarray], np.ndarray],
    n_train: int,
    threshold: float,
    validation: tuple[torch.Tensor, torch.Tensor],
    config: GuideConfig,
    log: Callable[[str], None],
) -> tuple[list[dict[str, float]], dict[str, torch.Tensor], int]:
    """``config.steps_for(n_train)`` AdamW steps, one-cycle schedule, over passes of the
    training rows in shuffled chunks; returns the evaluation history, the state of lowest
    held-out cross-entropy and the number of steps run in mixed precision."""
    starts = np.arange(0, n_train, config.chunk_rows)
    # fewer training rows than a batch (small data sets): one batch is all of them
    batch_size = min(config.batch_size, n_train, config.chunk_rows)
    opt = torch.optim.AdamW(
        net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    n_steps = config.steps_for(n_train)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=config.learning_rate, total_steps=n_steps
    )
    rng = np.random.default_rng(config.seed)
    # the first steps in mixed precision (cheap while the weights move far), the rest float32;
    # all float32 where bfloat16 would be emulated (many times slower)
    mixed_steps = mixed_precision_steps(config, n_steps)
    y_val, rel_val = validation
    history: list[dict[str, float]] = []
    best: dict[str, torch.Tensor] = copy.deepcopy(net.state_dict())
    best_bce = math.inf
    n_features = y_val.shape[1]
    cache: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = (
        {} if n_train * (n_features + 2) * 4 <= GUIDE_CACHE_BYTES else None
    )

    def chunk(a: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if cache is not None and a in cache:
            return cache[a]
        rows = _encode(
            source.read_labelled(a, min(a + config.chunk_rows, n_train)), to_y, threshold
        )
        if cache is not None:
            cache[a] = rows
        return rows

    step = 0
    while step < n_steps:
        for i in rng.permutation(starts.size):
            y, rel, margin = chunk(int(starts[i]))
            perm = torch.as_tensor(rng.permutation(y.shape[0]))
            for b in range(0, y.shape[0] - batch_size + 1, batch_size):
                if step >= n_steps:
                    break
                net.train()
                idx = perm[b : b + batch_size]
                opt.zero_grad()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=step < mixed_steps):
                    loss = _loss(net, y[idx], rel[idx], margin[idx], config.auxiliary_weight)
                loss.backward()
                opt.step()
                schedule.step()
                step += 1
                if step % config.eval_every and step < n_steps:
                    continue
                rec = _evaluate(net, y_val, rel_val, step)
                history.append(rec)
                log(
                    f"guide step {step}/{n_steps}: held-out accuracy "
                    f"{rec['validation_accuracy']:.4f}, cross-entropy "
                    f"{rec['validation_bce']:.4f}, expected incidence "
                    f"{rec['expected_incidence']:.4f}"
                )
                if rec["validation_bce"] < best_bce:
                    best_bce, best = rec["validation_bce"], copy.deepcopy(net.state_dict())
    return history, best, mixed_steps


@torch.no_grad()
def _evaluate(
    net: RelevanceNet, y: torch.Tensor, rel: torch.Tensor, step: int
) -> dict[str, float]:
    net.eval()
    logit = torch.cat([net(y[i : i + _SCORE_ROWS])[0] for i in range(0, y.shape[0], _SCORE_ROWS)])
    return {"step": step, **_held_out_scores(logit.double().numpy(), rel.numpy().astype(bool))}


def _held_out_scores(logits: np.ndarray, relevant: np.ndarray) -> dict[str, float]:
    """Accuracy, cross-entropy and the expected incidence of Bayes-rule generation
    (``Σ c·rel / Σ c``: unbiased for draws of the data's distribution kept with ``c``)."""
    c = 1.0 / (1.0 + np.exp(-logits))
    return {
        "validation_accuracy": float(np.mean((c > 0.5) == relevant)),
        "validation_bce": _bce(logits, relevant),
        "expected_incidence": float(np.sum(c * relevant) / np.sum(c)),
    }
