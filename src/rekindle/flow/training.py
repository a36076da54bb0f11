"""Streaming fit of the flow generator: counted marginals and copula, then a trained flow.

A training source yields chunks ``(km, relevant)`` of a row range: a dataset file on disk
(:class:`FileSource`, read chunk by chunk with :func:`rekindle.io.dataset.read_dataset`, so
10⁶–10⁷ sets never sit in memory) or arrays held in memory (:class:`ArraySource`). The fit
makes three kinds of passes over the training rows:

1. count the marginal histograms of every feature per class;
2. accumulate the per-class covariance of the normal scores (the Gaussian copula);
3. ``epochs`` passes of Adam on the negative log-likelihood of the whitened scores under
   the conditional coupling flow, chunk order and rows within a chunk shuffled, evaluated
   every ``eval_every`` steps on held-out rows (the last rows of the source); the state with
   the lowest held-out negative log-likelihood is kept. A likelihood cannot be won by
   narrowing: a generator narrower than the data scores worse on held-out data.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import FlowConfig
from .marginals import MarginalScores, Whitening
from .modules import N_CLASSES, ConditionalFlow


class ArraySource:
    """Training rows held in memory: K_M ``(n, d)``, relevance flags ``(n,)`` and, optionally,
    max Re(λ) ``(n,)`` in 1/h (NaN where unknown)."""

    def __init__(
        self, km: np.ndarray, relevant: np.ndarray, max_eig: np.ndarray | None = None
    ) -> None:
        self.km = np.asarray(km, dtype=np.float64)
        self.relevant = np.asarray(relevant, dtype=bool)
        self.n_rows = int(self.km.shape[0])
        self.max_eig = (
            np.full(self.n_rows, np.nan) if max_eig is None else np.asarray(max_eig, dtype=float)
        )

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``start:stop`` as ``(km, relevant)``."""
        return self.km[start:stop], self.relevant[start:stop]

    def read_labelled(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows ``start:stop`` as ``(km, relevant, max_eig)``."""
        return self.km[start:stop], self.relevant[start:stop], self.max_eig[start:stop]


class FileSource:
    """Training rows of a dataset file, read chunk by chunk (K_M columns only kept).

    Parameters
    ----------
    path : path
        A rekindle dataset (``sample`` output).
    km_columns : numpy.ndarray of int, shape (d,)
        Column of each K_M in the file's parameter matrix.
    """

    def __init__(self, path: str | Path, km_columns: np.ndarray) -> None:
        from rekindle.io.dataset import read_dataset

        self.path = Path(path)
        self.km_columns = np.asarray(km_columns, dtype=np.int64)
        self._read = read_dataset
        self.n_rows = int(read_dataset(self.path, rows=slice(0, 0)).metadata["n_models"])

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``start:stop`` as ``(km, relevant)``."""
        ds = self._read(self.path, rows=slice(start, stop))
        return ds.parameters[:, self.km_columns], ds.relevant

    def read_labelled(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows ``start:stop`` as ``(km, relevant, max_eig)`` (max Re(λ) in 1/h)."""
        ds = self._read(self.path, rows=slice(start, stop))
        return ds.parameters[:, self.km_columns], ds.relevant, ds.max_real_eigenvalue


Source = ArraySource | FileSource


def iter_chunks(
    source: Source, start: int, stop: int, chunk_rows: int, order: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks of rows ``start:stop`` as ``(km, relevant)``, in ``order`` of chunk index."""
    starts = np.arange(start, stop, chunk_rows)
    for i in order if order is not None else range(starts.size):
        a = int(starts[i])
        yield source.read(a, min(a + chunk_rows, stop))


#: a copula's marginal CDFs and whitening, fitted together
Maps = tuple[MarginalScores, Whitening]


@dataclass
class FlowFit:
    """What a fit produced: the fixed maps, the trained flow and its history."""

    marginals: MarginalScores
    whitening: Whitening
    flow: ConditionalFlow
    history: list[dict[str, float]]
    summary: dict[str, Any]
    #: marginals and copula of all training rows pooled (guided generation's proposal)
    proposal: Maps | None = None


def row_ranges(n_rows: int, config: FlowConfig) -> tuple[int, int]:
    """``(n_train, n_total)``: rows ``0:n_train`` train, ``n_train:n_total`` are held out."""
    n = min(n_rows, config.max_sets) if config.max_sets else n_rows
    n_val = min(config.max_validation, max(1, round(n * config.validation_fraction)))
    if n - n_val < 2:
        raise ValueError(f"too few parameter sets to train a flow: {n}")
    return n - n_val, n


def count_passes(
    source: Source,
    stop: int,
    to_y: Callable[[np.ndarray], np.ndarray],
    config: FlowConfig,
    *,
    with_pooled: bool = False,
) -> tuple[Maps, Maps | None]:
    """Marginal CDFs and copula of rows ``0:stop`` per class and, ``with_pooled``, of all
    rows as one class (index 0), counted in the same two reads of the source."""
    groups: list[tuple[int, Callable[[np.ndarray], np.ndarray]]] = [(N_CLASSES, _labels)]
    if with_pooled:
        groups.append((1, lambda rel: np.zeros(len(rel), dtype=np.int64)))
    marginals: list[MarginalScores] = []
    for km, rel in iter_chunks(source, 0, stop, config.chunk_rows):
        if not marginals:
            marginals = [MarginalScores(k, km.shape[1], config.bins) for k, _ in groups]
        y = to_y(km)
        for marg, (_, labels_of) in zip(marginals, groups, strict=True):
            marg.update(y, labels_of(rel))
    for marg in marginals:
        marg.finalize()
    n_features = marginals[0].counts.shape[1]
    whitenings = [Whitening(k, n_features) for k, _ in groups]
    for km, rel in iter_chunks(source, 0, stop, config.chunk_rows):
        y = to_y(km)
        for marg, whit, (_, labels_of) in zip(marginals, whitenings, groups, strict=True):
            labels = labels_of(rel)
            whit.update(marg.to_scores(y, labels), labels)
    maps = [(marg, whit.finalize()) for marg, whit in zip(marginals, whitenings, strict=True)]
    return maps[0], (maps[1] if with_pooled else None)


def _labels(relevant: np.ndarray) -> np.ndarray:
    # class index 0 = relevant, 1 = not relevant (rekindle.features.classes)
    return np.where(np.asarray(relevant, dtype=bool), 0, 1)


def fit_flow(
    source: Source,
    to_y: Callable[[np.ndarray], np.ndarray],
    config: FlowConfig,
    *,
    with_proposal: bool = False,
    log: Callable[[str], None] = lambda _msg: None,
) -> FlowFit:
    """Fit the whole generator on a source (see the module docstring).

    Parameters
    ----------
    source : ArraySource or FileSource
        Training rows; the last ``validation_fraction`` of the first ``max_sets`` rows
        are held out.
    to_y : callable
        K_M (n, d) → saturation features ``2σ − 1`` (n, d).
    config : FlowConfig
        Settings.
    with_proposal : bool
        Also count the pooled marginals and copula of all rows (:attr:`FlowFit.proposal`),
        in the same reads of the source.
    log : callable
        Receives one line per evaluation.

    Returns
    -------
    FlowFit
    """
    t0 = time.perf_counter()
    n_train, n_total = row_ranges(source.n_rows, config)
    (marginals, whitening), proposal = count_passes(
        source, n_train, to_y, config, with_pooled=with_proposal
    )

    def encode(km: np.ndarray, rel: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        labels = _labels(rel)
        w = whitening.whiten(marginals.to_scores(to_y(km), labels), labels)
        return torch.as_tensor(w, dtype=torch.float32), torch.as_tensor(labels)

    val = [encode(*c) for c in iter_chunks(source, n_train, n_total, config.chunk_rows)]
    w_val = torch.cat([v[0] for v in val])
    y_val = torch.cat([v[1] for v in val])
    torch.manual_seed(config.seed)
    flow = ConditionalFlow(w_val.shape[1], config.transforms, config.hidden, config.layers)
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        history, best = _train_flow(flow, source, n_train, encode, (w_val, y_val), config, log)
    finally:
        torch.set_num_threads(threads)
    if best is not None:
        flow.load_state_dict(best)
    flow.eval()
    val_nll = [h["validation_nll"] for h in history]
    summary = {
        "n_train": n_train,
        "n_validation": n_total - n_train,
        "n_relevant_train": int(whitening.n[0]),
        "steps": int(history[-1]["step"]) if history else 0,
        "validation_nll_initial": float(history[0]["validation_nll"]) if history else math.nan,
        "validation_nll_best": float(min(val_nll)) if val_nll else math.nan,
        "best_step": int(history[int(np.argmin(val_nll))]["step"]) if val_nll else 0,
        "seconds": time.perf_counter() - t0,
    }
    return FlowFit(marginals, whitening, flow, history, summary, proposal)


@torch.no_grad()
def _validation_nll(flow: ConditionalFlow, w: torch.Tensor, labels: torch.Tensor) -> float:
    flow.eval()
    out = torch.cat(
        [-flow.log_prob(w[i : i + 8192], labels[i : i + 8192]) for i in range(0, w.shape[0], 8192)]
    )
    flow.train()
    return float(out.mean()) / w.shape[1]


def _train_flow(
    flow: ConditionalFlow,
    source: Source,
    n_train: int,
    encode: Callable[[np.ndarray, np.ndarray], tuple[torch.Tensor, torch.Tensor]],
    validation: tuple[torch.Tensor, torch.Tensor],
    config: FlowConfig,
    log: Callable[[str], None],
) -> tuple[list[dict[str, float]], dict[str, torch.Tensor] | None]:
    """Adam on the NLL; returns the evaluation history and the best state (None: no flow)."""
    history = [{"step": 0, "sets_seen": 0, "train_nll": math.nan}]
    history[0]["validation_nll"] = _validation_nll(flow, *validation)
    best_nll = history[0]["validation_nll"]
    if config.transforms == 0:
        return history, None
    opt = torch.optim.Adam(flow.parameters(), lr=config.learning_rate)
    rng = np.random.default_rng(config.seed)
    n_chunks = -(-n_train // config.chunk_rows)
    initial = copy.deepcopy(flow.state_dict())
    state = {"step": 0, "seen": 0, "running": [], "best_nll": best_nll, "best": initial}

    def evaluate() -> None:
        rec = {
            "step": state["step"],
            "sets_seen": state["seen"],
            "train_nll": float(np.mean(state["running"])),
            "validation_nll": _validation_nll(flow, *validation),
        }
        history.append(rec)
        state["running"] = []
        log(
            f"flow step {rec['step']}: train NLL {rec['train_nll']:.4f}, held-out "
            f"{rec['validation_nll']:.4f} nats/feature"
        )
        if rec["validation_nll"] < state["best_nll"]:
            state["best_nll"] = rec["validation_nll"]
            state["best"] = copy.deepcopy(flow.state_dict())

    def budget_left() -> bool:
        return not config.max_steps or state["step"] < config.max_steps

    for _ in range(config.epochs):
        order = rng.permutation(n_chunks)
        for km, rel in iter_chunks(source, 0, n_train, config.chunk_rows, order):
            if not budget_left():
                break
            w, labels = encode(km, rel)
            perm = torch.as_tensor(rng.permutation(w.shape[0]))
            for i in range(0, w.shape[0] - config.batch_size + 1, config.batch_size):
                if not budget_left():
                    break
                idx = perm[i : i + config.batch_size]
                opt.zero_grad()
                loss = -flow.log_prob(w[idx], labels[idx]).mean()
                loss.backward()
                opt.step()
                state["step"] += 1
                state["seen"] += idx.numel()
                state["running"].append(float(loss.detach()) / w.shape[1])
                if state["step"] % config.eval_every == 0:
                    evaluate()
    if state["running"]:
        evaluate()
    return history, state["best"]
