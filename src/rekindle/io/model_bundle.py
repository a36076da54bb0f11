"""The model and physiology that every data file carries with it.

A dataset (:mod:`rekindle.io.dataset`) and a generator artefact (``generator.pt``)
record the *content* of the kinetic model and of the reference physiology they were
made from, in rekindle's own file format (:mod:`rekindle.io.model_yaml`), with a
SHA-256 hash of each. A later command rebuilds the model from that content: it needs
neither the model's name nor the file it came from, never opens a path named inside a
data file, and refuses to combine files made from different models.

Metadata keys (:data:`BUNDLE_KEYS`)::

    model, physiology                 names (for people)
    model_sha256, physiology_sha256   hash of the canonical JSON of the content
    model_content, physiology_content the model and physiology files' mappings

Files written before the content was embedded (dataset format ``rekindle-dataset/1``,
generators of rekindle ≤ 0.1) carry names only: names of embedded models
(:func:`rekindle.data.available_models`) resolve; any other name is refused with the
``rekindle upgrade`` command that embeds a model file into them
(:func:`rekindle.upgrade.upgrade_data_file`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from rekindle.errors import DatasetError, ModelError, PhysiologyError, RekindleError
from rekindle.io.model_yaml import (
    model_from_dict,
    model_to_dict,
    physiology_from_dict,
    physiology_to_dict,
    read_model,
    read_physiology,
)
from rekindle.kinetics.model import KineticModel
from rekindle.kinetics.physiology import Physiology, check_physiology

BUNDLE_KEYS = (
    "model",
    "physiology",
    "model_sha256",
    "physiology_sha256",
    "model_content",
    "physiology_content",
)
CONTENT_KEYS = ("model_content", "physiology_content")
"""Keys holding the (large) embedded content; HDF5 datasets store them as JSON text."""

ErrorFactory = Callable[[str], RekindleError]


def content_hash(content: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a model or physiology mapping."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ModelBundle:
    """A kinetic model with one physiology (reference steady state) of it.

    Attributes
    ----------
    model
        The kinetic model.
    physiology
        A reference steady state of ``model`` (checked on construction by
        :func:`bundle_from`).
    """

    model: KineticModel
    physiology: Physiology

    @cached_property
    def model_content(self) -> dict[str, Any]:
        """The model file's mapping."""
        return model_to_dict(self.model)

    @cached_property
    def physiology_content(self) -> dict[str, Any]:
        """The physiology file's mapping."""
        return physiology_to_dict(self.physiology, self.model.name)

    @property
    def model_hash(self) -> str:
        """SHA-256 of the model content."""
        return content_hash(self.model_content)

    @property
    def physiology_hash(self) -> str:
        """SHA-256 of the physiology content."""
        return content_hash(self.physiology_content)

    def metadata(self) -> dict[str, Any]:
        """The :data:`BUNDLE_KEYS` entries a data file records."""
        return {
            "model": self.model.name,
            "physiology": self.physiology.name,
            "model_sha256": self.model_hash,
            "physiology_sha256": self.physiology_hash,
            "model_content": self.model_content,
            "physiology_content": self.physiology_content,
        }

    def with_physiology(self, physiology: Physiology) -> ModelBundle:
        """The same model at another (checked) physiology."""
        return bundle_from(self.model, physiology)


def bundle_from(model: KineticModel, physiology: Physiology) -> ModelBundle:
    """Check ``physiology`` against ``model`` and pair them.

    Raises
    ------
    PhysiologyError
        Naming the metabolite or reaction at fault.
    """
    check_physiology(model, physiology)
    return ModelBundle(model, physiology)


def _is_file_spec(spec: str) -> bool:
    return spec.endswith((".yaml", ".yml")) or Path(spec).is_file()


def load_bundle(model: str, physiology: str | None = None) -> ModelBundle:
    """The model and physiology named on a command line.

    Parameters
    ----------
    model
        An embedded model's name (``ecoli``, ``toy``) or a model file.
    physiology
        An embedded physiology's name (default: the model's first) or a physiology
        file; a model file needs a physiology file.

    Raises
    ------
    ModelError, PhysiologyError
        Unknown names, missing or invalid files, a physiology that is no steady state
        of the model.
    """
    from rekindle.data import available_models, load_model, load_physiology

    if _is_file_spec(model):
        if not Path(model).exists():
            raise ModelError(f"model file not found: {model}")
        m = read_model(model)
        if physiology is None:
            raise PhysiologyError(f"the model file {model} needs a physiology file (--physiology)")
        return bundle_from(m, resolve_physiology(m, physiology))
    if model not in available_models():
        raise ModelError(
            f"unknown embedded model {model!r} (available: {', '.join(available_models())}); "
            "or give a model file"
        )
    m = load_model(model)
    if physiology is not None and _is_file_spec(physiology):
        return bundle_from(m, resolve_physiology(m, physiology))
    try:
        return bundle_from(m, load_physiology(model, physiology))
    except KeyError as exc:
        raise PhysiologyError(str(exc.args[0])) from None


def _embedded_twin(model: KineticModel) -> str | None:
    """The name of the embedded model identical to ``model``, if there is one."""
    from rekindle.data import available_models, load_model

    if model.name not in available_models():
        return None
    twin = load_model(model.name)
    return (
        model.name
        if content_hash(model_to_dict(twin)) == content_hash(model_to_dict(model))
        else None
    )


def resolve_physiology(model: KineticModel, spec: str) -> Physiology:
    """A physiology of ``model`` named on a command line: a file, or an embedded name.

    Embedded physiology names (``fdp2``) resolve only for a model identical to the
    embedded model of the same name.
    """
    from rekindle.data import available_physiologies, load_physiology

    if _is_file_spec(spec):
        if not Path(spec).is_file():
            raise PhysiologyError(f"physiology file not found: {spec}")
        phys = read_physiology(spec)
    else:
        twin = _embedded_twin(model)
        if twin is None:
            raise PhysiologyError(
                f"physiology {spec!r}: model {model.name!r} is not an embedded model; "
                "give a physiology file"
            )
        if spec not in available_physiologies(twin):
            raise PhysiologyError(
                f"model {twin!r} has no physiology {spec!r} "
                f"(available: {', '.join(available_physiologies(twin))})"
            )
        phys = load_physiology(twin, spec)
    check_physiology(model, phys)
    return phys


def bundle_of(
    metadata: Mapping[str, Any], source: str, error: ErrorFactory = DatasetError
) -> ModelBundle:
    """The model and physiology a data file was made from, rebuilt from its metadata.

    Parameters
    ----------
    metadata
        The file's metadata (dataset attributes, generator ``metadata``).
    source
        The file, for messages.
    error
        Builds the exception raised (default :class:`~rekindle.errors.DatasetError`).

    Raises
    ------
    RekindleError
        If the embedded content does not match its hash, is not a valid model or
        physiology, or (old files) names a model that is not embedded.
    """
    if "model_content" not in metadata:
        return _legacy_bundle(metadata, source, error)
    for kind in ("model", "physiology"):
        content = metadata.get(f"{kind}_content")
        if not isinstance(content, Mapping):
            raise error(f"{source}: the embedded {kind} is missing or malformed")
        if content_hash(content) != metadata.get(f"{kind}_sha256"):
            raise error(
                f"{source}: the embedded {kind} does not match its SHA-256 hash "
                "(the file was altered or damaged)"
            )
    try:
        model = model_from_dict(dict(metadata["model_content"]), f"{source} (embedded model)")
        phys = physiology_from_dict(
            dict(metadata["physiology_content"]), f"{source} (embedded physiology)"
        )
        return bundle_from(model, phys)
    except (ModelError, PhysiologyError) as exc:
        raise error(f"{source}: {exc}") from None


def _legacy_bundle(metadata: Mapping[str, Any], source: str, error: ErrorFactory) -> ModelBundle:
    from rekindle.data import available_models, available_physiologies, load_model, load_physiology

    name, phys = metadata.get("model"), metadata.get("physiology")
    if name in available_models() and phys in available_physiologies(str(name)):
        return bundle_from(load_model(str(name)), load_physiology(str(name), str(phys)))
    raise error(
        f"{source} was written without its model (model {name!r}, physiology {phys!r}, "
        "not embedded in rekindle); convert it with `rekindle upgrade "
        f"{source} --model MODEL.yaml --physiology PHYSIOLOGY.yaml`"
    )


def common_bundle(
    files: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    same_physiology: bool = True,
    error: ErrorFactory = DatasetError,
) -> ModelBundle:
    """The one model (and physiology) shared by several data files.

    Parameters
    ----------
    files
        ``(source, metadata)`` pairs, at least one.
    same_physiology
        Also require the same physiology.

    Raises
    ------
    RekindleError
        Naming the two files whose models (or physiologies) differ.
    """
    first: tuple[str, ModelBundle] | None = None
    for source, meta in files:
        b = bundle_of(meta, source, error)
        if first is None:
            first = (source, b)
            continue
        check_same_model(
            first[1], b, first[0], source, same_physiology=same_physiology, error=error
        )
    if first is None:
        raise error("no data file given")
    return first[1]


def check_same_model(
    expected: ModelBundle,
    found: ModelBundle,
    expected_source: str,
    found_source: str,
    *,
    same_physiology: bool = True,
    error: ErrorFactory = DatasetError,
) -> None:
    """Refuse ``found`` unless it has the model (and physiology) of ``expected``."""
    kinds = [("model", expected.model.name, found.model.name, "model_hash")]
    if same_physiology:
        kinds.append(
            ("physiology", expected.physiology.name, found.physiology.name, "physiology_hash")
        )
    for kind, a, b, attr in kinds:
        ha, hb = getattr(expected, attr), getattr(found, attr)
        if ha != hb:
            raise error(
                f"{found_source} was made from {kind} {b!r} (sha256 {hb[:12]}), "
                f"{expected_source} from {kind} {a!r} (sha256 {ha[:12]}): files made "
                f"from different {kind}s cannot be combined"
            )


def generator_bundle(gan: Any) -> ModelBundle:
    """The model and physiology a generator (:class:`rekindle.gan.KineticGAN`) learnt.

    Raises
    ------
    DatasetError
        As :func:`bundle_of`, or if the generator's features are not the model's K_M.
    """
    source = str(getattr(gan, "path", None) or "generator")
    bundle = bundle_of(gan.metadata, source)
    if list(bundle.model.km_names) != list(gan.feature_names):
        raise DatasetError(
            f"{source}: the generator's features are not the K_M of model {bundle.model.name!r}"
        )
    return bundle
