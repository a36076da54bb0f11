"""Argument checks run before any file is touched (and before heavy imports).

Each check raises :class:`~rekindle.errors.UsageError` with one line naming the option
and the value; none imports numpy-heavy or torch code, so a refusal is immediate.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path

from rekindle.errors import MissingFileError, UsageError

MAX_SEED = 2**32 - 1
"""Largest accepted seed (numpy's and torch's seeding both take it; chunk seeds add to it
within 64 bits)."""

DISK_MARGIN = 1.1
"""Free space asked beyond the estimate of a dataset's size."""

_DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


def require_positive(option: str, value: int) -> int:
    """``value ≥ 1`` (counts and sizes)."""
    if value < 1:
        raise UsageError(f"{option} must be at least 1, got {value}")
    return value


def require_finite(option: str, value: float) -> float:
    """A finite number (no NaN, no ±inf)."""
    if not math.isfinite(value):
        raise UsageError(f"{option} must be a finite number, got {value}")
    return value


def require_seed(value: int, option: str = "--seed") -> int:
    """``0 ≤ value ≤`` :data:`MAX_SEED`."""
    if not 0 <= value <= MAX_SEED:
        raise UsageError(f"{option} must be between 0 and {MAX_SEED}, got {value}")
    return value


def require_output_file(path: Path, option: str = "--output") -> Path:
    """An output file path: not a folder, not too long, in a folder that exists or can be
    created and where a file can be written (a read-only file system is refused too)."""
    path = Path(path)
    _require_path_length(path, option)
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise UsageError(f"{option} {path} exists and is not a regular file")
    _require_writable_parent(path, option)
    return path


def require_output_folder(path: Path, option: str = "--output") -> Path:
    """An output folder path: not an existing file, not too long, writable."""
    path = Path(path)
    _require_path_length(path, option)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file; give a folder")
    _require_writable_parent(path / "x", option)
    return path


def _require_path_length(path: Path, option: str) -> None:
    """Each component within the file system's NAME_MAX, the whole within PATH_MAX."""
    try:
        name_max = os.pathconf(_existing_ancestor(path.absolute()), "PC_NAME_MAX")
        path_max = os.pathconf(_existing_ancestor(path.absolute()), "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    for part in path.parts:
        if len(os.fsencode(part)) > name_max:
            raise UsageError(
                f"{option}: the name {part[:40]}… has {len(os.fsencode(part))} bytes; this "
                f"file system allows {name_max}"
            )
    if len(os.fsencode(str(path.absolute()))) >= path_max:
        raise UsageError(f"{option}: the path is longer than this system's {path_max} bytes")


def _existing_ancestor(path: Path) -> Path:
    parent = path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def _require_writable_parent(path: Path, option: str) -> None:
    """The nearest existing folder above ``path`` accepts a new file (probed: a temporary
    file is created and removed, so root on a read-only mount is caught too)."""
    import tempfile

    parent = _existing_ancestor(path.parent)
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: no permission to write in {parent}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".rekindle-probe-", dir=parent)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write in {parent} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def require_disk_space(output: Path, n_models: int, n_parameters: int, option: str = "--n") -> int:
    """Refuse a dataset that cannot fit on the output's file system.

    A dataset of ``n`` models takes ``n × (8 n_parameters + 9)`` bytes, twice while it is
    assembled from its journal; the ceiling on ``n`` is what the free space allows.
    """
    per_model = 2 * (8 * n_parameters + 9)
    parent = output.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if n_models * per_model * DISK_MARGIN > free:
        ceiling = int(free / (per_model * DISK_MARGIN))
        raise UsageError(
            f"{option} {n_models} needs ~{_size(n_models * per_model)} while being written and "
            f"{parent} has {_size(free)} free: at most {ceiling} models fit"
        )
    return n_models


def require_device(device: str | None) -> str | None:
    """A torch device name (``cpu``, ``cuda``, ``cuda:N``, ``mps``); availability is
    checked where the generator is loaded."""
    if device is not None and not _DEVICE.match(device):
        raise UsageError(f"--device must be cpu, cuda, cuda:N or mps, got {device!r}")
    return device


def _size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n_bytes < 1000 or unit == "PB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1000
    raise AssertionError  # pragma: no cover


def require_device_available(device: str | None) -> str | None:
    """:func:`require_device`, then that this machine has it (imports torch)."""
    if require_device(device) is None or device == "cpu":
        return device
    import torch

    assert device is not None
    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            raise UsageError(
                f"--device {device}: this machine has {count} CUDA device(s) usable by "
                f"torch {torch.__version__}"
            )
    elif not torch.backends.mps.is_available():
        raise UsageError(f"--device {device}: MPS is not available on this machine")
    return device


# ---------------------------------------------------------------------------- round 2
MAX_TEXT_INPUT_BYTES = 64 * 1024**2
"""Largest text input (model, physiology, names, YAML, CSV) read into memory, bytes."""

SCHEDULER_PROBE_TIMEOUT_S = 5.0
"""Seconds to wait for a Dask scheduler to accept a connection and greet."""

_TEXT_SNIFF_BYTES = 8192


def require_input_file(path: Path, option: str, *, text: bool = False) -> Path:
    """An input file that exists, is a regular file (not a folder, a named pipe or a
    device) and is readable; with ``text``, not binary (no NUL byte, valid UTF-8 in its
    first 8 KiB) and at most :data:`MAX_TEXT_INPUT_BYTES`.

    A named pipe is refused because reading it blocks until another process writes.
    """
    import stat

    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MissingFileError(f"{option} {path}: file not found") from None
    except OSError as exc:
        raise UsageError(f"{option} {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{option} {path} is a folder; give a file")
    if not stat.S_ISREG(st.st_mode):
        kind = "a named pipe" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        raise UsageError(f"{option} {path} is {kind}; give a regular file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{option} {path}: no permission to read it")
    if text:
        if st.st_size > MAX_TEXT_INPUT_BYTES:
            raise UsageError(
                f"{option} {path} has {_size(st.st_size)}; a text input may have at most "
                f"{_size(MAX_TEXT_INPUT_BYTES)}"
            )
        with open(path, "rb") as fh:
            head = fh.read(_TEXT_SNIFF_BYTES)
        if b"\0" in head or not _utf8_prefix(head, len(head) == _TEXT_SNIFF_BYTES):
            raise UsageError(f"{option} {path} is a binary file; a text file is expected")
    return path


def _utf8_prefix(data: bytes, truncated: bool) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the sniff window is fine
        return truncated and exc.start >= len(data) - 3
    return True


def read_text_input(path: Path, option: str) -> str:
    """The content of a text input checked by :func:`require_input_file`."""
    require_input_file(path, option, text=True)
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{option} {path} is not UTF-8 text (byte {exc.start})") from None


def require_distinct(
    output: Path,
    output_option: str,
    *inputs: tuple[str, Path | None],
    reason: str = "writing it would replace that input",
) -> Path:
    """Refuse an output that is one of the inputs (same resolved path or same file).

    Parameters
    ----------
    output, output_option
        The output path and the option that gave it.
    *inputs
        ``(option, path)`` of each input (``None`` paths are skipped).
    reason
        Why the two must differ (the end of the message).
    """
    out = Path(output)
    out_resolved = out.resolve()
    for option, path in inputs:
        if path is None:
            continue
        same = Path(path).resolve() == out_resolved
        if not same and out.exists() and Path(path).exists():
            try:
                same = os.path.samefile(out, path)
            except OSError:
                same = False
        if same:
            raise UsageError(
                f"{output_option} {output} is the same file as {option} {path}; {reason}"
            )
    return out


def require_at_most(option: str, value: float, bound: float, why: str = "") -> float:
    """``value ≤ bound`` (sizes that would otherwise run for days or exhaust memory)."""
    if value > bound:
        reason = f" ({why})" if why else ""
        raise UsageError(f"{option} must be at most {bound:g}, got {value:g}{reason}")
    return value


def require_chunk_size(value: int, option: str = "--chunk-size", bound: int = 10_000_000) -> int:
    """A chunk size in ``1 … bound``."""
    require_positive(option, value)
    require_at_most(option, value, bound, "one chunk is held in memory")
    return value


def require_jobs(value: int | None, option: str = "--jobs", bound: int = 1024) -> int | None:
    """A worker count in ``1 … bound`` (``None``: the default)."""
    if value is None:
        return None
    require_positive(option, value)
    require_at_most(option, value, bound)
    return value


_SCHEME = re.compile(
    r"^(?:(?P<scheme>[a-z][a-z0-9+]*)://)?(?P<host>\[[0-9a-fA-F:]+\]|[^:/\s]+)"
    r":(?P<port>\d{1,5})/?$"
)


def require_scheduler_address(
    address: str | None, option: str = "--scheduler", timeout: float = SCHEDULER_PROBE_TIMEOUT_S
) -> str | None:
    """A Dask scheduler address ``tcp://host:port`` or ``host:port`` that answers as one.

    Anything else is refused in one line: not an address, an unknown scheme, a port out
    of range, nothing listening, or a server that does not greet like a Dask scheduler
    within ``timeout`` seconds (e.g. a web server: Dask's client would wait for ever).
    """
    import socket

    if address is None:
        return None
    match = _SCHEME.match(address.strip())
    if match is None:
        raise UsageError(f"{option} must be tcp://host:port or host:port, got {address!r}")
    scheme = match["scheme"] or "tcp"
    if scheme not in ("tcp", "tls"):
        raise UsageError(f"{option} {address}: unknown scheme {scheme!r} (use tcp:// or tls://)")
    port = int(match["port"])
    if not 1 <= port <= 65535:
        raise UsageError(f"{option} {address}: port {port} is not in 1…65535")
    host = match["host"].strip("[]")
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if scheme == "tcp":  # a scheduler greets first (its handshake)
                sock.settimeout(timeout)
                greeting = sock.recv(16)
                if not greeting or greeting.startswith(b"HTTP"):
                    raise UsageError(
                        f"{option} {address} does not answer as a Dask scheduler "
                        f"(no handshake within {timeout:g} s; is it a web port?)"
                    )
    except TimeoutError:
        raise UsageError(
            f"{option} {address} does not answer as a Dask scheduler (no handshake within "
            f"{timeout:g} s; is it a web port?)"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot reach the Dask scheduler {address}: {exc.strerror or exc}"
        ) from None
    return f"{scheme}://{match['host']}:{port}"


# Upper bounds of the command-line sizes: beyond them a run would take days, exhaust
# memory or never end on any machine rekindle targets; each is far above what the paper
# or the profiles use (listed in docs/science/harden.md).
MAX_CHUNK_SIZE = 1_000_000
"""Models per chunk (``--chunk-size``): one chunk is held in memory (411 parameters:
3.3 GB at the bound)."""
MAX_TRANSFORMS = 64
"""Learnt coupling transforms of the flow (``--transforms``; the default is 0, and no gain
was measured beyond a handful)."""
MAX_EPOCHS = 100_000
"""Training epochs (``--epochs``; the paper trains 1000)."""
MAX_REPEATS = 1000
"""Independent trainings (``--repeats``; the paper runs 5)."""
MAX_GUIDE_STEPS = 10_000_000
"""AdamW steps of the relevance guide (``--guide-max-steps``; default 20 000)."""
MAX_GUIDE_EPOCHS = 10_000.0
"""Passes of the relevance guide over the data (``--guide-epochs``; default 12)."""
MAX_PERTURBATIONS = 100_000
"""Perturbations per model (``--perturbations``; the paper draws 10)."""
MAX_T_END_H = 100.0
"""Time of the perturbation return test, h (``--t-end``; 0.35 h by default). Stiff
integrations beyond it fail for almost every model."""
MAX_EVAL_MODELS = 10_000_000
"""Models generated for one evaluation (``--n-eval``, ``--n-per-class``,
``--n-subpopulation``, ``--validation-models``)."""
