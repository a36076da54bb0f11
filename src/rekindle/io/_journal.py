"""A crash-consistent journal of chunks: the ``<output>.partial`` folder of a streamed write.

Layout::

    <output>.partial/
        lock                     held (flock) by the one process writing <output>
        manifest.json            what is being written (names, metadata, creation time)
        chunk_00000000.npz       chunk 0: its arrays, its index and a digest of its bytes
        chunk_00000001.npz       …

Each chunk is one file, written beside its final name, flushed and fsync'ed, then renamed
into place (and the folder fsync'ed): the chunk and the count of committed chunks (the
number of chunk files) are committed by one atomic rename, so a process killed at any
moment leaves either the chunk or nothing. A reopened journal is verified against its
content (consecutive indices, digests) before anything is appended, and a second process
that tries to open the same journal is refused while the first holds its lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rekindle.errors import DatasetError
from rekindle.io.atomic import fsync_path

JOURNAL_FORMAT = "rekindle-journal/1"
_CHUNK = re.compile(r"^chunk_(\d{8})\.npz$")


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) until the block is done, then raise it.

    Used around the few steps that must not be torn (a commit, the final assembly), and
    so that no library callback (h5py) swallows the interrupt.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


class ChunkJournal:
    """The ``.partial`` folder of one output, opened and locked by this process.

    Use :meth:`open`; the instance holds the lock until :meth:`release` or
    :meth:`discard`.
    """

    def __init__(self, folder: Path, lock_fd: int, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self._lock_fd: int | None = lock_fd
        self.manifest = manifest
        self.n_chunks = 0
        self.n_rows = 0

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls, folder: Path, manifest: dict[str, Any], *, resume: bool, force: bool, what: str
    ) -> ChunkJournal:
        """Open the journal at ``folder``: create it, or continue or replace an existing one.

        Parameters
        ----------
        manifest
            What this run writes; an existing journal continues only if its manifest is
            the same (keys ``created`` and ``rekindle_version`` aside).
        resume, force
            What to do with an existing journal: continue it (verified), or discard it.
            With neither, an existing journal is refused (it may hold hours of work).
        what
            Names the output in messages.

        Raises
        ------
        DatasetError
            Another process holds the journal; an existing journal and neither
            ``resume`` nor ``force``; a journal of other settings; a damaged chunk.
        """
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.is_file() or folder.is_symlink():
            if not force:
                raise DatasetError(
                    f"{folder} is an unfinished file of an earlier rekindle version; "
                    "delete it or use --force"
                )
            folder.unlink()
        if not folder.exists():
            return cls._create(folder, manifest, what)
        lock_fd = _lock(folder, what)
        try:
            if force:
                shutil.rmtree(folder)
                os.close(lock_fd)
                return cls._create(folder, manifest, what)
            journal = cls(folder, lock_fd, _read_manifest(folder))
            journal._verify()
            if not resume:
                raise DatasetError(
                    f"{folder} holds an unfinished run ({journal.n_chunks} chunks, "
                    f"{journal.n_rows} rows): continue it with --resume or discard it with --force"
                )
            journal._check_same(manifest)
            return journal
        except BaseException:
            os.close(lock_fd)
            raise

    @classmethod
    def _create(cls, folder: Path, manifest: dict[str, Any], what: str) -> ChunkJournal:
        # build the folder under a temporary name, locked, then rename it into place: a
        # journal is never visible unlocked or without its manifest
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        fd = os.open(tmp / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            _write_durably(tmp / "manifest.json", json.dumps(manifest, sort_keys=True).encode())
            try:
                os.rename(tmp, folder)
            except OSError:
                raise DatasetError(
                    f"another rekindle process is writing {what} ({folder} appeared meanwhile)"
                ) from None
            fsync_path(folder.parent)
        except BaseException:
            os.close(fd)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(folder, fd, manifest)

    def _check_same(self, manifest: dict[str, Any]) -> None:
        ignore = ("created", "rekindle_version")
        ours = {k: json.dumps(v, sort_keys=True) for k, v in manifest.items() if k not in ignore}
        theirs = {k: json.dumps(v, sort_keys=True) for k, v in self.manifest.items()}
        theirs = {k: v for k, v in theirs.items() if k not in ignore}
        if ours != theirs:
            diff = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
            raise DatasetError(
                f"{self.folder} was written with other settings ({', '.join(diff)}); "
                "use the same settings, or --force to discard it"
            )

    def _verify(self) -> None:
        for stray in self.folder.glob(".chunk_*"):
            stray.unlink()  # a chunk that was never committed
        names = (_CHUNK.match(f.name) for f in self.folder.iterdir())
        indices = sorted(int(m.group(1)) for m in names if m)
        if indices != list(range(len(indices))):
            missing = sorted(set(range(max(indices, default=-1) + 1)) - set(indices))
            raise DatasetError(f"{self.folder}: chunk {missing[0]} is missing; use --force")
        self.n_chunks = len(indices)
        self.n_rows = sum(self.read(i)["parameters"].shape[0] for i in indices)

    # ------------------------------------------------------------------ chunks
    def _chunk_path(self, index: int) -> Path:
        return self.folder / f"chunk_{index:08d}.npz"

    def commit(self, arrays: dict[str, np.ndarray]) -> None:
        """Append one chunk: written, fsync'ed, then renamed into place in one step."""
        arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        index = self.n_chunks
        tmp = self.folder / f".chunk_{index:08d}.tmp"
        with tmp.open("wb") as fh:
            np.savez(fh, index=np.int64(index), digest=np.array(_digest(arrays)), **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        with deferred_interrupt():
            os.rename(tmp, self._chunk_path(index))
            fsync_path(self.folder)
            self.n_chunks += 1
            self.n_rows += next(iter(arrays.values())).shape[0]

    def read(self, index: int) -> dict[str, np.ndarray]:
        """The arrays of chunk ``index``, verified against its digest."""
        path = self._chunk_path(index)
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise DatasetError(f"{path} is damaged ({exc}); use --force to start over") from None
        stored_index = int(arrays.pop("index", -1))
        digest = str(arrays.pop("digest", ""))
        if stored_index != index or digest != _digest(arrays):
            raise DatasetError(f"{path} is damaged (digest mismatch); use --force to start over")
        return arrays

    # ------------------------------------------------------------------ closing
    def release(self) -> None:
        """Keep the journal on disk (for a later resume) and release the lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def discard(self) -> None:
        """Delete the journal, then release the lock."""
        if self._lock_fd is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.release()


def _lock(folder: Path, what: str) -> int:
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatasetError(
            f"another rekindle process is writing {what} (it holds {folder / 'lock'})"
        ) from None
    return fd


def _read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{folder} is damaged (manifest: {exc}); use --force") from None
    if manifest.get("journal") != JOURNAL_FORMAT:
        raise DatasetError(f"{folder} is not a rekindle journal; use --force")
    return manifest


def _write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
