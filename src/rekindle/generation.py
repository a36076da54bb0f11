"""Generation of complete kinetic models from a trained generator, streamed to disk.

A generated K_M set becomes a complete parameter set by the ORACLE back-calculation of
V_max at the generator's physiology; optionally each model is labelled by the engine
(exact max Re(λ)). Chunk *i* uses generator seed ``seed + i`` and is a pure function of
it, so millions of models stream to disk with bounded memory.
"""

from __future__ import annotations

from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rekindle.errors import UsageError
from rekindle.flow import KineticFlow
from rekindle.gan import KineticGAN
from rekindle.io.dataset import CLASS_METADATA_KEYS, DirectDatasetWriter
from rekindle.io.model_bundle import ModelBundle, generator_bundle
from rekindle.kinetics.labelling import Labeller
from rekindle.kinetics.physiology import Physiology
from rekindle.kinetics.system import KineticSystem
from rekindle.progress import ProgressCallback


def generate_labelled(
    gan: KineticGAN,
    labeller: Labeller,
    n: int,
    cls: str = "relevant",
    seed: int = 0,
    *,
    check: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate ``n`` K_M sets of class ``cls``, complete them (V_max) and label them.

    The one place where generated models meet the engine: the validation set of a
    run, the interpretability populations and the transfer baselines all come from here.

    Parameters
    ----------
    labeller
        Engine labeller at the physiology whose V_max are back-calculated.
    check
        Raise on a non-finite or negative back-calculated V_max (otherwise such a model
        gets a NaN or meaningless eigenvalue and is labelled not relevant).

    Returns
    -------
    parameters, max_real_eigenvalue, relevant
        Shapes ``(n, n_parameters)``, ``(n,)`` h⁻¹, ``(n,)``.
    """
    return labeller.label_km(gan.generate(n, cls, seed=seed), check=check)


def load_generator(path: str | Path, device: str | None = None) -> KineticGAN | KineticFlow:
    """Load a ``generator.pt`` of either kind: the cGAN or the flow (by its ``format``).

    Raises
    ------
    GeneratorFileError
        If the file is missing, corrupted or of neither format.
    """
    import torch

    from rekindle.errors import GeneratorFileError
    from rekindle.flow import FORMAT_NAME as FLOW_FORMAT

    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, or a named pipe that would block
        raise GeneratorFileError(path, "not a regular file")
    try:
        fmt = torch.load(path, map_location="cpu", weights_only=True).get("format")
    except FileNotFoundError as exc:
        raise GeneratorFileError(path, "file not found") from exc
    except Exception:  # the GAN's loader names the problem
        fmt = None
    if fmt == FLOW_FORMAT:
        return KineticFlow.load(path)
    return KineticGAN.load(path, device=device)


def generate_chunk(
    gan: KineticGAN | KineticFlow,
    labeller: Labeller,
    n: int,
    cls: str,
    seed: int,
    *,
    validate: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate ``n`` complete parameter sets (and their labels).

    Returns
    -------
    parameters, max_real_eigenvalue, relevant
        Shapes ``(n, n_parameters)``, ``(n,)`` (NaN unless ``validate``), ``(n,)``
        (engine label if ``validate``, else the requested class).
    """
    if validate:
        return generate_labelled(gan, labeller, n, cls, seed)
    km = gan.generate(n, cls, seed=seed)
    params = complete_in_blocks(labeller.system, km, labeller.physiology)
    return params, np.full(n, np.nan), np.full(n, cls == "relevant")


def retain_freed_memory(top_pad: int = 256 * 2**20) -> bool:
    """Let this process's ``malloc`` (glibc) keep freed memory for reuse instead of handing
    it back to the kernel after every large temporary.

    Drawing 10⁶ models allocates and frees ~10⁴ arrays of 10–30 MB; by default each is
    mapped and unmapped anew, and every page is faulted in and zeroed again (measured on
    ``rekindle generate --n 1000000``: 1.8·10⁶ page faults, 10 s of system time; with this,
    2.5·10⁵ and 6 s). For a process that only generates (the ``generate`` command): the
    resident size then stays at its peak (~1 GB there). Returns False where there is no
    glibc (nothing is changed).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # <malloc.h>
    ok = mallopt(m_mmap_threshold, 32 * 2**20)  # the largest glibc accepts
    ok &= mallopt(m_trim_threshold, 2**31 - 1)
    ok &= mallopt(m_top_pad, int(top_pad))
    return bool(ok)


#: rows per block of :func:`complete_in_blocks` (its temporaries stay in cache)
COMPLETION_ROWS = 2048


def complete_in_blocks(
    system: KineticSystem, km: np.ndarray, physiology: Physiology, rows: int = COMPLETION_ROWS
) -> np.ndarray:
    """:meth:`KineticSystem.complete_parameters` of ``km`` (n, n_km) µM, ``rows`` at a time.

    The same numbers as one call (row by row the same arithmetic), into one preallocated
    array ``(n, n_parameters)``: the rate law's dozen temporaries per block stay in the
    CPU caches instead of being fresh arrays of the whole chunk.
    """
    n = km.shape[0]
    if n <= rows:
        return system.complete_parameters(km, physiology)
    out = np.empty((n, system.model.n_parameters))
    for a in range(0, n, rows):
        out[a : a + rows] = system.complete_parameters(km[a : a + rows], physiology)
    return out


def labeller_for(gan: KineticGAN, *, executor: Executor | None = None, **kwargs) -> Labeller:
    """The engine labeller at the model and physiology a generator carries, labelling by
    its recorded class (``lower < max Re(λ) < upper``, :attr:`relevance_interval`).

    ``kwargs`` go to :class:`~rekindle.kinetics.labelling.Labeller` (``n_jobs``…).
    """
    bundle = generator_bundle(gan)  # the model the generator carries
    return Labeller.of_interval(
        KineticSystem(bundle.model),
        bundle.physiology,
        gan.relevance_interval,  # its recorded class, else below its threshold
        executor=executor,
        **kwargs,
    )


def generate_dataset(
    gan: KineticGAN | KineticFlow,
    n: int,
    output: str | Path,
    *,
    cls: str = "relevant",
    seed: int = 0,
    validate: bool = False,
    only_valid: bool = False,
    chunk_size: int = 50_000,
    max_chunks: int | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
    executor: Executor | None = None,
    labeller: Labeller | None = None,
) -> dict[str, float | int | str]:
    """Generate ``n`` models of class ``cls`` into a dataset file.

    Parameters
    ----------
    gan
        Trained generator, cGAN or flow (its metadata names the model and physiology).
    seed
        Without ``validate``, a guided flow's models are the first ``n`` kept draws of one
        stream seeded with ``seed`` (:meth:`KineticFlow.guided_stream
        <rekindle.flow.model.KineticFlow.guided_stream>`), whatever ``chunk_size``;
        otherwise chunk ``i`` is drawn with seed ``seed + i``.
    only_valid
        Keep only models whose engine label matches ``cls`` and continue until ``n``
        are collected (implies ``validate``).
    max_chunks
        Give up after this many chunks (default: enough for an incidence of 1 %).
    force
        Discard the journal ``<output>.partial/`` of an interrupted generation by an
        earlier version (refused otherwise; generation is not resumable). The file is
        written by :class:`~rekindle.io.dataset.DirectDatasetWriter`: an interrupted
        generation leaves ``output`` untouched and nothing else.
    executor
        Label on this :class:`concurrent.futures.Executor` (e.g. a Dask cluster)
        instead of local threads; generation itself runs here.
    labeller
        Engine labeller to use (default: :func:`labeller_for` the generator).

    Returns
    -------
    dict
        ``n_written``, ``n_generated``, ``incidence`` (engine-labelled fraction of
        relevant models among all generated, NaN without validation), ``path``.
    """
    labeller = labeller or labeller_for(gan, executor=executor)
    validate = validate or only_valid
    max_chunks = max_chunks or max(10, int(100 * n / chunk_size) + 10)
    writer = _open_generated_dataset(
        gan, labeller, n, output, cls=cls, seed=seed, validate=validate,
        only_valid=only_valid, force=force,
    )  # fmt: skip
    stream = _Stream(gan, labeller, writer, n, cls, seed, chunk_size, max_chunks, progress)
    try:
        if validate:
            _stream_labelled(stream, only_valid)
        else:
            _stream_completed(stream)
    except BaseException:
        writer.abort()
        raise
    return _commit_generated_dataset(writer, stream, validate)


def _open_generated_dataset(
    gan: KineticGAN | KineticFlow,
    labeller: Labeller,
    n: int,
    output: str | Path,
    *,
    cls: str,
    seed: int,
    validate: bool,
    only_valid: bool,
    force: bool,
) -> DirectDatasetWriter:
    """The writer of :func:`generate_dataset`'s file, its metadata recorded."""
    model, phys = labeller.system.model, labeller.physiology
    bundle = ModelBundle(model, phys)  # recorded in the dataset
    md = {
        **bundle.metadata(),
        "threshold": gan.threshold,
        "source": "generated",
        "class": cls,
        "seed": seed,
        "validated": validate,
        "only_valid": only_valid,
        "labels": "engine" if validate else "requested class (not validated)",
        # the generator's class (rekindle.classes), by which the engine labels were given
        **{k: gan.metadata[k] for k in CLASS_METADATA_KEYS if k in gan.metadata},
    }
    # straight into the final layout under a temporary name (generation is redone, not
    # resumed, so it needs no journal): each row is written once
    return DirectDatasetWriter(output, model.parameter_names, md, n, force=force)


@dataclass
class _Stream:
    """The state of :func:`generate_dataset`'s chunk loop: what it draws, and its counts."""

    gan: KineticGAN | KineticFlow
    labeller: Labeller
    writer: DirectDatasetWriter
    n: int
    cls: str
    seed: int
    chunk_size: int
    max_chunks: int
    progress: ProgressCallback | None
    written: int = 0
    generated: int = 0
    n_rel: int = 0
    chunk: int = 0

    def require_chunk_left(self) -> None:
        """Give up (one line) once ``max_chunks`` chunks are drawn."""
        if self.chunk >= self.max_chunks:
            raise UsageError(
                f"only {self.written} of {self.n} valid models after {self.generated} generated "
                f"(incidence {self.n_rel / max(self.generated, 1):.4f}); giving up on "
                "--only-valid"
            )

    def report(self) -> None:
        """Tell ``progress`` how many models are written."""
        if self.progress:
            self.progress(self.written)


def _stream_completed(stream: _Stream) -> None:
    """Draw unlabelled chunks; complete and write chunk i while chunk i + 1 is drawn."""
    gan, phys = stream.gan, stream.labeller.physiology
    want_relevant = stream.cls == "relevant"
    # completion + writing of chunk i (numpy, HDF5) overlaps the drawing of chunk i + 1
    # (torch): one chunk in flight at most, written in order
    completer = ThreadPoolExecutor(max_workers=1)
    pending: Future[None] | None = None
    # a flow hands over its features y; the K_M back-transform runs in the worker too
    features = isinstance(gan, KineticFlow)
    guided = features and gan.uses_guide()
    rows_dtype = np.float32 if guided else np.float64
    # a guided flow: one stream of draws for the whole file (no draw dropped between
    # chunks; the file does not depend on the chunk size), filling two chunk buffers in
    # turn: one being completed by the worker, the other being drawn into
    draws = gan.guided_stream(stream.cls, seed=stream.seed) if guided else None
    if draws is not None:
        chunk_rows = min(stream.chunk_size, stream.n)
        buffers = [np.empty((chunk_rows, gan.n_features), np.float32) for _ in range(2)]

    def complete_and_write(km: np.ndarray) -> None:
        for a in range(0, km.shape[0], COMPLETION_ROWS):
            rows = km[a : a + COMPLETION_ROWS]
            if features:
                rows = gan.scaler.inverse_transform(rows)  # float64 K_M, from float32 too
            block = stream.labeller.system.complete_parameters(rows, phys)
            b = block.shape[0]
            stream.writer.append(block, np.full(b, np.nan), np.full(b, want_relevant))

    try:
        while stream.written < stream.n:
            stream.require_chunk_left()
            m = min(stream.chunk_size, stream.n - stream.written)
            seed = stream.seed + stream.chunk
            if draws is not None:
                km = buffers[stream.chunk % 2][:m]  # the worker is done with it
                draws.fill(km)  # float32-exact rows; the worker converts them
            elif features:
                km = gan.generate(m, stream.cls, seed=seed, scaled=True, dtype=rows_dtype)
            else:
                km = gan.generate(m, stream.cls, seed=seed)
            if pending is not None:
                pending.result()
                stream.report()
            pending = completer.submit(complete_and_write, km)
            stream.generated += m
            stream.written += m
            stream.chunk += 1
        if pending is not None:
            pending.result()
            stream.report()
    except BaseException:
        completer.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        completer.shutdown(wait=True)
        if draws is not None:
            draws.close()


def _stream_labelled(stream: _Stream, only_valid: bool) -> None:
    """Draw, complete and label chunks; with ``only_valid`` keep the class's members only."""
    want_relevant = stream.cls == "relevant"
    n = stream.n
    while stream.written < n:
        stream.require_chunk_left()
        m = min(stream.chunk_size, n - stream.written) if not only_valid else stream.chunk_size
        params, lam, rel = generate_chunk(
            stream.gan, stream.labeller, m, stream.cls, stream.seed + stream.chunk, validate=True
        )
        stream.generated += m
        stream.n_rel += int(rel.sum())
        if only_valid:
            keep = rel if want_relevant else (np.isfinite(lam) & ~rel)
            left = n - stream.written
            params, lam, rel = params[keep][:left], lam[keep][:left], rel[keep][:left]
        stream.writer.append(params, lam, rel)
        stream.written += params.shape[0]
        stream.chunk += 1
        stream.report()


def _commit_generated_dataset(
    writer: DirectDatasetWriter, stream: _Stream, validate: bool
) -> dict[str, float | int | str]:
    """Close the file with its counts; :func:`generate_dataset`'s summary."""
    generated = stream.generated
    incidence = stream.n_rel / generated if validate and generated else float("nan")
    path = writer.close(extra_metadata={"n_generated": generated, "incidence_generated": incidence})
    return {
        "path": str(path),
        "n_written": stream.written,
        "n_generated": generated,
        "incidence": incidence,
    }
