"""Old data files brought up to date: :func:`upgrade_data_file` embeds a model bundle
into a dataset or a ``generator.pt`` (cGAN or flow) written before files carried their
model, and rewrites a generator in the current format (with its checksum,
:mod:`rekindle.io.digest`).

It reads both kinds of file, so it sits above the generators (not in
:mod:`rekindle.io.model_bundle`, which datasets and generators import).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py

from rekindle.errors import DatasetError
from rekindle.io.dataset import ParameterDataset, read_dataset, write_dataset
from rekindle.io.model_bundle import ModelBundle

__all__ = ["upgrade_data_file"]


def upgrade_data_file(path: str | Path, bundle: ModelBundle) -> str:
    """Embed ``bundle`` into an old data file (dataset or ``generator.pt``) in place.

    The file is rewritten atomically; its data are unchanged. The file must name the
    bundle's model and physiology, and its columns (features) must be the model's.

    Returns
    -------
    str
        ``"dataset"`` or ``"generator"``.

    Raises
    ------
    DatasetError
        If the file does not match the model or is neither kind of file.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"file not found: {path}")
    if h5py.is_hdf5(path):
        ds = read_dataset(path)
        _same_names(ds.metadata, bundle, path)
        if ds.parameter_names != bundle.model.parameter_names:
            raise DatasetError(f"{path}: columns are not the parameters of {bundle.model.name!r}")
        meta = {k: v for k, v in ds.metadata.items() if k not in ("format", "created")}
        write_dataset(
            path,
            ParameterDataset(
                ds.parameters,
                ds.parameter_names,
                ds.max_real_eigenvalue,
                ds.relevant,
                {**meta, **bundle.metadata()},
            ),
        )
        return "dataset"
    from rekindle.generation import load_generator  # torch: for generator files only

    gan = load_generator(path)  # either kind; an old flow file gains its checksum here
    _same_names(gan.metadata, bundle, path)
    if list(gan.feature_names) != list(bundle.model.km_names):
        raise DatasetError(f"{path}: the generator's features are not the K_M of the model")
    gan.metadata.update(bundle.metadata())
    gan.save(path)
    return "generator"


def _same_names(metadata: Mapping[str, Any], bundle: ModelBundle, path: Path) -> None:
    for kind, name in (("model", bundle.model.name), ("physiology", bundle.physiology.name)):
        if metadata.get(kind) != name:
            raise DatasetError(
                f"{path} names {kind} {metadata.get(kind)!r}, the file given is {name!r}"
            )
