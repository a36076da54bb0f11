"""Shared fixtures of the GAN tests: seeding and a small synthetic problem."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from rekindle.gan import KineticGAN, TrainingConfig


@pytest.fixture(scope="module", autouse=True)
def _single_thread() -> Iterator[None]:
    """Run torch single-threaded in each GAN test module (restored afterwards).

    The networks in these tests are tiny; one thread is about as fast as two
    and avoids OpenMP oversubscription when other processes share the cores.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seed_everything() -> Iterator[None]:
    """Seed the global RNGs before each test."""
    torch.manual_seed(1234)
    np.random.seed(1234)  # noqa: NPY002 - tests must not depend on leftover global state
    yield


@dataclass
class Synthetic:
    """K_M data whose class is fixed by feature 0 (relevant iff log10 K_M,0 > median)."""

    km: np.ndarray
    relevant: np.ndarray
    median: float
    labeller: Callable[[np.ndarray], np.ndarray]


def make_synthetic(n: int = 2000, d: int = 8, seed: int = 0, shift: float = 0.0) -> Synthetic:
    """``log10 K_M ~ N(shift, 0.5^2)`` independently per feature; class from feature 0.

    The labeller mimics the eigenvalue labeller: it returns -10 1/h (relevant
    for the default threshold -9) when ``log10 K_M,0`` exceeds the median of
    the data, else -5 1/h.
    """
    rng = np.random.default_rng(seed)
    logk = rng.normal(shift, 0.5, (n, d))
    median = float(np.median(logk[:, 0]))

    def labeller(km: np.ndarray) -> np.ndarray:
        return np.where(np.log10(km[:, 0]) > median, -10.0, -5.0)

    return Synthetic(10.0**logk, logk[:, 0] > median, median, labeller)


@pytest.fixture(scope="session")
def synthetic() -> Synthetic:
    """2,000 models with 8 features, half of them relevant."""
    return make_synthetic()


@pytest.fixture(scope="session")
def pretrained_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generator artefact briefly trained on a small synthetic set."""
    data = make_synthetic(n=256, d=8, seed=5)
    names = [f"km_{i}" for i in range(8)]
    gan = KineticGAN(data.km, data.relevant, names, {"model": "synthetic", "physiology": "A"})
    cfg = TrainingConfig(
        epochs=3,
        batch_size=32,
        eval_every=1,
        n_eval=64,
        device="cpu",
        num_threads=1,
    )
    gan.train(data.labeller, cfg)
    return gan.save(tmp_path_factory.mktemp("pretrained") / "generator.pt")


@pytest.fixture(scope="session")
def make_data() -> Callable[..., Synthetic]:
    """Factory of synthetic data sets (see :func:`make_synthetic`)."""
    return make_synthetic
