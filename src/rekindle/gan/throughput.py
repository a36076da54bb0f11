"""Training throughput of the GAN networks (rows per second), for the speed benchmarks."""

from __future__ import annotations

import time

import numpy as np
import torch

from .config import ArchitectureConfig, TrainingConfig
from .modules import Discriminator, Generator
from .preprocessing import LogMinMaxScaler
from .training import GANTrainer, _num_threads

__all__ = ["measure_throughput"]


def measure_throughput(
    n_features: int = 259,
    batch_sizes: tuple[int, ...] = (64, 128, 256, 512),
    n_samples: int = 16384,
    epochs: int = 2,
    num_threads: int | None = None,
    architecture: ArchitectureConfig | None = None,
    device: str = "cpu",
    seed: int = 0,
) -> dict[int, float]:
    """Training throughput (real rows per second) for several batch sizes.

    Random data of the requested width are trained for one warm-up epoch and
    then ``epochs`` timed epochs per batch size (evaluation excluded).

    Parameters
    ----------
    n_features : int
        Parameters per model (259 in the paper).
    batch_sizes : tuple of int
        Batch sizes to time.
    n_samples : int
        Rows of the synthetic training set.
    epochs : int
        Timed epochs per batch size.
    num_threads : int, optional
        ``torch.set_num_threads`` during the measurement.
    architecture : ArchitectureConfig, optional
        Network architecture (defaults of :class:`ArchitectureConfig`).
    device : str
        Training device.
    seed : int
        Seed of data and networks.

    Returns
    -------
    dict
        batch size -> rows per second.
    """
    arch = architecture or ArchitectureConfig()
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n_samples, n_features))
    y = rng.integers(0, arch.n_classes, n_samples)
    scaler = LogMinMaxScaler().fit(np.ones((2, n_features)) * [[1.0], [10.0]])
    result: dict[int, float] = {}
    with _num_threads(num_threads):
        for bs in batch_sizes:
            torch.manual_seed(seed)
            trainer = GANTrainer(
                Generator(n_features, arch),
                Discriminator(n_features, arch),
                scaler,
                TrainingConfig(batch_size=bs, device=device, seed=seed),
            )
            trainer._setup(x, y)
            trainer._seed_fresh()
            trainer.train_epoch()
            t0 = time.perf_counter()
            rows = sum(trainer.train_epoch()[3] for _ in range(epochs))
            result[bs] = rows / (time.perf_counter() - t0)
    return result
