"""Stage: ORACLE data (:func:`sample_data` → ``oracle.h5``)."""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING

from rekindle.progress import ProgressFactory, no_progress
from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H as DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from rekindle.io.dataset import ParameterDataset
    from rekindle.kinetics import KineticSystem, Physiology


def sample_data(
    system: KineticSystem,
    physiology: Physiology,
    path: str | Path,
    n_sets: int,
    *,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    progress: ProgressFactory = no_progress,
    executor: Executor | None = None,
    load_parameters: bool = True,
) -> ParameterDataset:
    """ORACLE parameter sets, sampled and labelled into ``path`` (resumed; kept if done).

    ``load_parameters=False`` returns the labels and eigenvalues only (a parameter matrix
    of shape ``(n, 0)``): the caller streams the matrix from ``path`` (its ``.path``).
    """
    from rekindle.io.dataset import read_dataset
    from rekindle.io.model_bundle import ModelBundle, check_same_model
    from rekindle.sampling import sample_dataset

    path = Path(path)
    if not path.exists():
        with progress("ORACLE sampling + labelling", n_sets) as update:
            sample_dataset(
                system.model,
                physiology,
                n_sets,
                path,
                seed,
                threshold=threshold,
                resume=True,
                progress=update,
                executor=executor,
            )
    head = read_dataset(path, rows=slice(0, 0))
    # data kept from an earlier run must be of this model (a run folder holds one)
    check_same_model(ModelBundle(system.model, physiology), head.bundle(), "this run", str(path))
    return read_dataset(path, parameters=load_parameters)
