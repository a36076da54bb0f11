"""Guided generation in reduced precision: the hot path of drawing millions of models.

:meth:`KineticFlow.generate` with the relevance guide draws ``y`` from the pooled copula
and keeps it with probability ``c(y)^power`` (:mod:`rekindle.flow.guide`). Per draw that is
``d`` normal numbers, a ``d × d`` triangular product (colouring), ``d`` inverse marginal
CDFs and one pass of the guide's MLP (``d → 256 → 256 → 256``, ~0.4 MFLOP), of which only
the share kept (the class's incidence, ~0.6) goes on to the parameters. This module does
all of it in single precision on torch, in blocks that stay in cache:

* **colouring** ``g = μ + L w`` in float32 (BLAS's triangular ``strmm``, called from
  compiled code without the GIL; the mean is added in the table's pass);
* **marginals** through :class:`ScoreTable`: ``y_j = F_j⁻¹(Φ(g_j))`` tabulated per
  feature on a uniform grid of ``g`` and interpolated linearly: one index, two gathers
  and a multiply-add per entry instead of ``Φ``, a guide-table look-up and a search.
  Its error against the float64 map is measured at construction
  (:attr:`ScoreTable.max_error`): a small fraction of the histogram's own resolution (one
  bin = ``2 / bins``), largest in nearly empty bins;
* **the guide's decisions** by :class:`ScreenedGuide`: the logit in bfloat16 (AMX/AVX-512
  matrix units where present), and only draws whose bfloat16 logit lies within a band of
  the acceptance threshold are recomputed in float32, and within a narrower band in
  float64. The bands are bounded from the measured worst error of each precision
  (times a safety factor), so every decision is the float64 network's decision
  (``tests/flow/test_sampler.py`` counts the mismatches on a seeded sample: 0). Where
  bfloat16 products are slower than float32 (CPUs without fast bfloat16 kernels: 13.1
  against 8.1 µs per row for a 3 × 512 guide on an AVX-512 Xeon without AMX), the
  screen starts in float32 instead; which one is timed on the calibration draws (and not
  timed at all where bfloat16 products are emulated, ~20× slower: float32), and the
  decisions do not depend on it.

The blocks are feature-major (d, n): the marginals read one feature's table at a time.
Their rows are padded (:data:`PAD`), so that reading one draw across its features — the
guide's draw-major bfloat16 input and the kept rows, both transposed by compiled loops —
does not map every feature to the same cache set. A second thread makes block k + 1
(noise, colouring, marginals, the guide's input) while the calling thread takes the
guide's decisions on block k, in block order, so the draws are bit for bit those of one
thread: :meth:`GuidedSampler.draw_into` for a given number of draws, :class:`GuidedStream`
for a given number of kept rows (the first n kept draws of one seeded stream).

A draw is kept when ``u < c(y)^power`` with ``c = σ(z / T)``, ``z`` the raw logit and ``T``
the calibration temperature; equivalently ``s·z > T·logit(u^{1/power})`` with ``s = +1`` for
the relevant class and ``−1`` for the other, which is how the decision is taken here (no
``exp`` per draw, one comparison per precision).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import llvmlite.binding as llvm_binding
import numpy as np
import torch
from numba import njit, types
from numba.extending import get_cython_function_address
from scipy.special import ndtri
from threadpoolctl import ThreadpoolController

from .guide import RelevanceGuide, native_bfloat16
from .marginals import CDF_EDGE, MarginalScores, Whitening

#: grid points per feature of :class:`ScoreTable`
TABLE_NODES = 16_384
#: every this-many-th grid cell's midpoint is checked against the float64 map
_CHECK_STRIDE = 8
#: rows per block of the sampler (a block's activations stay in the L2/L3 caches)
BLOCK_ROWS = 16384
#: the screening bands are this many times the worst error measured at construction (the
#: bfloat16 errors of the default guide: median 0.012, 99.9 % 0.11, largest of 65 536
#: draws 0.18 logit units)
SAFETY = 3.0
#: float32 columns of padding after each feature's row of a feature-major block: with a
#: row length of exactly 16384 floats (64 KiB) every feature's entry of one draw would sit
#: in the same L1 cache set, and reading a draw across its 259 features would thrash;
#: 16 floats (one cache line) more put consecutive features in consecutive sets
#: (``python benchmarks/bench_generate.py`` times the transpose both ways)
PAD = 16
#: draws used to measure the reduced-precision errors of the guide
CALIBRATION_ROWS = 16384
#: calibration draws on which the two first passes are timed (best of three each)
TIMING_ROWS = 4096


class ScoreTable:
    """``g ↦ F⁻¹(Φ(g))`` per feature, tabulated on a uniform grid and interpolated linearly.

    The grid spans ``[−G, G]`` with ``G = Φ⁻¹(1 − CDF_EDGE)`` (≈ 5.61): beyond it the
    float64 map clips ``Φ(g)`` to the same edge, so the table is exact there too up to the
    interpolation inside the outermost cell.

    Parameters
    ----------
    marginals : MarginalScores
        Finalised CDFs; class ``cls`` is tabulated.
    cls : int
        Class index of the marginals (0 for the pooled proposal).
    nodes : int
        Grid points per feature.

    Attributes
    ----------
    values, slopes : numpy.ndarray, shape (d·nodes,)
        ``y`` at each node and its increment to the next node, float32, feature-major.
    max_error : float
        Largest |table − float64 map| found at the midpoints of an eighth of the cells
        (units of ``y``; one histogram bin is ``2 / bins``). The largest errors sit where a
        bin holds little more than its pseudo-count: the map steps by a whole bin over a
        sliver of ``g`` that the grid smooths (0.03 bin at most for the default E. coli
        generator, fitted on 4.5·10⁵ sets).
    """

    def __init__(self, marginals: MarginalScores, cls: int = 0, nodes: int = TABLE_NODES) -> None:
        cdf = marginals.cdf
        if cdf is None:
            raise RuntimeError("marginals not finalised")
        d = cdf.shape[1]
        self.d, self.nodes = int(d), int(nodes)
        self.edge = float(-ndtri(CDF_EDGE))
        self.scale = (self.nodes - 1) / (2.0 * self.edge)
        grid = np.linspace(-self.edge, self.edge, self.nodes)
        labels = np.full(self.nodes, cls, dtype=np.int64)
        y = marginals.from_scores(np.repeat(grid[:, None], d, axis=1), labels).T  # (d, K)
        slopes = np.diff(y, axis=1, append=y[:, -1:])
        self.values = np.ascontiguousarray(y.reshape(-1), dtype=np.float32)
        self.slopes = np.ascontiguousarray(slopes.reshape(-1), dtype=np.float32)
        mid = ((grid[:-1] + grid[1:]) / 2)[::_CHECK_STRIDE]  # a sample of the cells
        exact = marginals.from_scores(np.repeat(mid[:, None], d, axis=1), labels[: mid.size])
        approx = self(torch.tensor(np.repeat(mid[None, :], d, axis=0), dtype=torch.float32)).T
        self.max_error = float(np.max(np.abs(approx - exact)))

    def __call__(
        self,
        g: torch.Tensor | np.ndarray,
        shift: np.ndarray | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores ``g`` (d, n) float32, feature-major → ``y`` (d, n) float32 in [−1, 1];
        with ``shift`` (d,), the scores ``g + shift`` (a mean added on the way).

        Feature-major, so that the gathers of one feature read one feature's table
        (``2 · nodes`` floats, cache-resident) and not all of them. One compiled pass per
        entry (:func:`_interpolate`: a shift, an index, two gathers and a multiply-add, in
        float32; without a shift the result is bit for bit that of the torch and numpy
        operations it replaced).

        ``out``, if given, is a C-ordered float32 array of shape (d, m) with m ≥ n (rows
        padded by :data:`PAD`, say) whose first n columns receive ``y``; the view
        ``out[:, :n]`` is returned.
        """
        scores = g.numpy() if isinstance(g, torch.Tensor) else np.asarray(g)
        scores = np.ascontiguousarray(scores, dtype=np.float32)
        d, n = scores.shape
        if out is None:
            out = np.empty_like(scores)
        elif (
            out.dtype != np.float32
            or not out.flags.c_contiguous
            or out.shape[0] != d
            or out.shape[1] < n
        ):
            raise ValueError(f"out must be C-ordered float32 of shape ({d}, ≥{n})")
        offsets = np.zeros(self.d, np.float32) if shift is None else np.asarray(shift, np.float32)
        _interpolate(
            scores,
            offsets,
            self.values,
            self.slopes,
            np.float32(self.edge),
            np.float32(self.scale),
            self.nodes,
            out,
        )
        return out[:, :n]


@njit(cache=True, error_model="numpy", nogil=True)
def _interpolate(
    g: np.ndarray,
    shift: np.ndarray,
    values: np.ndarray,
    slopes: np.ndarray,
    edge: np.float32,
    scale: np.float32,
    nodes: int,
    out: np.ndarray,
) -> None:
    """``out[j, i] = values[j·nodes + k] + slopes[j·nodes + k]·f`` with ``x = clip((g[j, i]
    + shift[j] + edge)·scale, 0, nodes − 1)``, ``k = ⌊x⌋``, ``f = x − k``, in float32,
    for ``i < g.shape[1]`` (``out`` may have more columns)."""
    top = np.float32(nodes - 1)
    zero = np.float32(0.0)
    for j in range(g.shape[0]):
        row = g[j]
        dest = out[j]
        base = j * nodes
        offset = shift[j]
        for i in range(row.shape[0]):
            x = (row[i] + offset + edge) * scale
            x = min(max(x, zero), top)
            k = int(x)
            frac = x - np.float32(k)
            dest[i] = slopes[base + k] * frac + values[base + k]


@njit(cache=True, nogil=True)
def _bfloat16_rows(y: np.ndarray, n: int, out: np.ndarray) -> None:
    """``out[i, j]`` = the bfloat16 bits of ``y[j, i]`` for ``i < n``: a feature-major
    float32 block (d, ≥n) transposed to draw-major (n, d) uint16, rounded to nearest
    even as torch's conversion rounds (a NaN becomes the quiet NaN 0x7FC0, where rounding
    its bits could make an infinity of it)."""
    bits = y.view(np.uint32)
    d = bits.shape[0]
    one, half, shift = np.uint32(1), np.uint32(0x7FFF), np.uint32(16)
    for i in range(n):
        for j in range(d):
            b = bits[j, i]
            if (b & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000):
                out[i, j] = np.uint16(0x7FC0)
            else:
                out[i, j] = np.uint16((b + half + ((b >> shift) & one)) >> shift)


@njit(cache=True, nogil=True)
def _gather_rows(y: np.ndarray, columns: np.ndarray, out: np.ndarray) -> None:
    """``out[r, j] = y[j, columns[r]]`` for ``r < len(out)``: the draws ``columns`` of a
    feature-major block (d, m), draw-major, converted to ``out``'s dtype."""
    d = y.shape[0]
    for r in range(min(columns.shape[0], out.shape[0])):
        c = columns[r]
        for j in range(d):
            out[r, j] = y[j, c]


# BLAS's strmm (scipy's OpenBLAS, through its Cython table of pointers) callable from
# compiled code without the GIL: scipy.linalg.blas.strmm holds the GIL while it runs, which
# would stall the guide's thread for the ~13 ms of each block's colouring. Declared as an
# external symbol (not a ctypes pointer), so that the compiled caller can be cached; every
# argument is passed by reference (the Fortran convention).
_STRMM_SYMBOL = "rekindle_scipy_blas_strmm"
llvm_binding.add_symbol(
    _STRMM_SYMBOL, get_cython_function_address("scipy.linalg.cython_blas", "strmm")
)
_STRMM = types.ExternalFunction(_STRMM_SYMBOL, types.void(*([types.voidptr] * 11)))


@njit(cache=True, nogil=True)
def _colour_in_place(cholesky: np.ndarray, w: np.ndarray) -> None:
    """``w ← L w`` for ``w`` (d, n) C-ordered and ``L`` (d, d) lower triangular, Fortran-
    ordered: BLAS's ``strmm('R', 'L', 'T', 'N')`` on the Fortran matrix ``wᵀ`` (n, d),
    ``wᵀ ← wᵀ Lᵀ``."""
    d, n = w.shape
    flags = np.array([ord("R"), ord("L"), ord("T"), ord("N")], np.uint8)
    sizes = np.array([n, d, d, n], np.int32)  # m, n, lda, ldb
    alpha = np.ones(1, np.float32)
    _STRMM(
        flags[0:].ctypes,
        flags[1:].ctypes,
        flags[2:].ctypes,
        flags[3:].ctypes,
        sizes[0:].ctypes,
        sizes[1:].ctypes,
        alpha.ctypes,
        cholesky.ctypes,
        sizes[2:].ctypes,
        w.ctypes,
        sizes[3:].ctypes,
    )


class ScreenedGuide:
    """The guide's accept/reject decisions, screened in bfloat16, exact as float64's.

    Parameters
    ----------
    guide : RelevanceGuide
        The trained guide (its float32 network is used as is; bfloat16 and float64
        copies are made).
    calibration : torch.Tensor, shape (m, d)
        Typical inputs (draws of the proposal) on which the errors of bfloat16 against
        float32 and of float32 against float64 are measured to set the bands.

    first_pass : {"bfloat16", "float32"} or None
        The precision every draw's logit is first computed in; None: the faster of the two
        on this CPU, timed on ``calibration`` (best of three); float32 without timing where
        the CPU has no native bfloat16 products (:func:`.guide.native_bfloat16`). The
        decisions are the float64 network's either way.

    Attributes
    ----------
    band16, band32 : float
        Half-widths (logit units) around the threshold inside which a bfloat16, resp.
        float32, logit is recomputed in the next precision (``band16`` is NaN where the
        screen starts in float32).
    first_pass : str
        ``"bfloat16"`` or ``"float32"``.
    rechecked : dict
        Counts of draws screened and recomputed in float32 and float64 (cumulative).
    """

    def __init__(
        self, guide: RelevanceGuide, calibration: torch.Tensor, first_pass: str | None = None
    ) -> None:
        self.temperature = float(guide.temperature)
        self.net32 = guide.net.eval()
        self.net16 = copy.deepcopy(self.net32).to(torch.bfloat16).eval()
        self.net64 = copy.deepcopy(self.net32).to(torch.float64).eval()
        self._fused = self._fused_layers(self.net16)
        self._fused32 = self._fused_layers(self.net32)
        if first_pass not in (None, "bfloat16", "float32"):
            raise ValueError(f"first_pass must be 'bfloat16', 'float32' or None: {first_pass!r}")
        if first_pass is None:
            # emulated bfloat16 products are ~20× slower than float32: not worth timing
            native = native_bfloat16()
            first_pass = self._faster_first_pass(calibration[:TIMING_ROWS]) if native else "float32"
        self._first_pass = first_pass
        with torch.inference_mode():
            z64 = self.net64(calibration.double())[0]
            err32 = float((self._logit32(calibration).double() - z64).abs().max())
            self.band32 = max(SAFETY * err32, 1e-4)
            self.band16 = math.nan  # measured only where the screen starts in bfloat16
            if first_pass == "bfloat16":
                err16 = float((self._logit16(calibration).double() - z64).abs().max())
                self.band16 = max(SAFETY * err16, 0.05)
        self.rechecked = {"screened": 0, "float32": 0, "float64": 0}

    @property
    def first_pass(self) -> str:
        """``"bfloat16"`` or ``"float32"``: fixed at construction, where its band is measured."""
        return self._first_pass

    def _faster_first_pass(self, y: torch.Tensor) -> str:
        """``"bfloat16"`` or ``"float32"``, whichever logit is faster on ``y`` (best of three)."""
        best = {}
        with torch.inference_mode():
            for name, logit in (("bfloat16", self._logit16), ("float32", self._logit32)):
                times = []
                for _ in range(3):
                    t = time.perf_counter()
                    logit(y)
                    times.append(time.perf_counter() - t)
                best[name] = min(times)
        return min(best, key=best.__getitem__)

    def _logit16(self, y: torch.Tensor) -> torch.Tensor:
        """The raw logit in bfloat16 (float32 result), shape (n,), of ``y`` (n, d)."""
        h = y.to(torch.bfloat16, memory_format=torch.contiguous_format)
        if self._fused is not None:
            *hidden, (w, b) = self._fused
            for wi, bi in hidden:
                h = _linear_silu(h, wi, bi)
            return torch.nn.functional.linear(h, w[:1], b[:1])[:, 0].float()
        return self.net16(h)[0].float()

    def _logit32(self, y: torch.Tensor) -> torch.Tensor:
        """The raw logit in float32, shape (n,), of ``y`` (n, d)."""
        if self._fused32 is None:
            return self.net32(y)[0]
        h = y.contiguous()
        *hidden, (w, b) = self._fused32
        for wi, bi in hidden:
            h = _linear_silu(h, wi, bi)
        return torch.nn.functional.linear(h, w[:1], b[:1])[:, 0]

    @staticmethod
    def _fused_layers(net: torch.nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """The layers of ``net`` for the fused linear + SiLU kernel of oneDNN, or None where
        this torch build has no such kernel (the plain network is used then)."""
        linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
        acts = [m for m in net.trunk if not isinstance(m, torch.nn.Linear)]
        if not all(isinstance(m, torch.nn.SiLU) for m in acts):
            return None  # dropout in eval mode is the identity, but keep the plain path
        layers = [(m.weight.detach(), m.bias.detach()) for m in linears]
        try:
            probe = torch.zeros(2, linears[0].in_features, dtype=layers[0][0].dtype)
            _linear_silu(probe, *layers[0])
        except (AttributeError, RuntimeError, NotImplementedError):
            return None
        return layers

    def thresholds(self, u: torch.Tensor, power: float) -> torch.Tensor:
        """``T·logit(u^{1/power})`` (float64, shape (n,)) for uniforms ``u`` (n,)."""
        v = u.double().numpy()
        if power != 1.0:
            v = v ** (1.0 / power)
        with np.errstate(divide="ignore"):
            return torch.from_numpy((np.log(v) - np.log1p(-v)) * self.temperature)

    @torch.inference_mode()
    def keep(
        self,
        y: torch.Tensor,
        thresholds: torch.Tensor,
        sign: float,
        first: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Decisions ``sign·z(y) > thresholds`` (bool, (n,)) as the float64 network takes them.

        Parameters
        ----------
        y : torch.Tensor, shape (n, d)
            Features, float32 (any strides).
        thresholds : torch.Tensor, shape (n,)
            From :meth:`thresholds`, float64.
        sign : float
            ``+1`` (relevant class) or ``−1``.
        first : torch.Tensor, shape (n, d), optional
            ``y`` already converted for the first pass: contiguous, in the precision of
            :attr:`first_pass` (:meth:`GuidedSampler.first_pass_rows`); otherwise ``y`` is
            converted here.
        """
        self.rechecked["screened"] += int(y.shape[0])
        if first is None:
            first = y
        if self.first_pass == "float32":
            gap32 = self._logit32(first).double().mul_(sign).sub_(thresholds)
            keep = gap32 > 0
            nearer = torch.nonzero(gap32.abs_() < self.band32).squeeze(1)
        else:
            gap = self._logit16(first).double().mul_(sign).sub_(thresholds)
            keep = gap > 0
            near = torch.nonzero(gap.abs_() < self.band16).squeeze(1)
            nearer = near[:0]
            if near.numel():
                self.rechecked["float32"] += int(near.numel())
                gap32 = self._logit32(y[near]).double().mul_(sign).sub_(thresholds[near])
                keep[near] = gap32 > 0
                nearer = near[gap32.abs() < self.band32]
        if nearer.numel():
            self.rechecked["float64"] += int(nearer.numel())
            z64 = self.net64(y[nearer].double())[0]
            keep[nearer] = z64.mul_(sign) > thresholds[nearer]
        return keep


class GuidedSampler:
    """Draws of the pooled copula kept by the guide, in single precision (see module doc).

    Parameters
    ----------
    marginals, whitening : MarginalScores, Whitening
        The flow's proposal (one class: the training data pooled).
    guide : RelevanceGuide
        The relevance guide.
    seed : int
        Seed of the calibration draws (the decisions do not depend on it).
    """

    def __init__(
        self, marginals: MarginalScores, whitening: Whitening, guide: RelevanceGuide, seed: int = 0
    ) -> None:
        assert whitening.mean is not None and whitening.cholesky is not None
        self.mean = np.ascontiguousarray(whitening.mean[0], dtype=np.float32)
        # L, Fortran-ordered for BLAS's triangular product
        self.cholesky = np.asfortranarray(whitening.cholesky[0], dtype=np.float32)
        self.d = int(self.mean.shape[0])
        self.table = ScoreTable(marginals, 0)
        self._one_blas_thread = ThreadpoolController().select(user_api="blas")
        gen = torch.Generator().manual_seed(int(seed))
        self.guide = ScreenedGuide(guide, self._features(CALIBRATION_ROWS, gen))

    def noise(
        self,
        b: int,
        noise: torch.Generator,
        max_score: float = 8.0,
        out: torch.Tensor | None = None,
    ) -> np.ndarray:
        """Standard normal draws ``w`` (d, b) float32, feature-major, clipped to ±max_score
        (into ``out``, a contiguous float32 tensor of shape (d, b), if given)."""
        w = torch.randn(self.d, b, generator=noise, out=out)
        return w.clamp_(-max_score, max_score).numpy()

    def colour(self, w: np.ndarray) -> np.ndarray:
        """``L w`` (d, b) float32 for noise ``w`` (d, b) (overwritten, returned): BLAS's
        triangular product ``strmm``, half the work of a full product (``python
        benchmarks/bench_generate.py``'s step table: 1.56 CPU s per 10⁶ kept models against
        5.40 s for torch's ``addmm``), called without the GIL. The mean is added by the
        table.

        On one BLAS thread: OpenBLAS's idle threads spin after each call and take the cores
        from the guide's threads, for no gain in time (``docs/science/memgen.md``).
        """
        if w.dtype != np.float32 or not w.flags.c_contiguous or w.shape[0] != self.d:
            raise ValueError(f"w must be C-ordered float32 of shape ({self.d}, b)")
        with self._one_blas_thread.limit(limits=1):
            _colour_in_place(self.cholesky, w)
        return w

    def _block(
        self,
        b: int,
        noise: torch.Generator,
        max_score: float = 8.0,
        buffers: _BlockBuffers | None = None,
    ) -> np.ndarray:
        """``b`` draws of the proposal, feature-major: ``y`` (d, b + :data:`PAD`) float32,
        of which the first ``b`` columns are the draws (in ``buffers`` if given). The
        caller holds the one-BLAS-thread limit (:meth:`colour`)."""
        w = buffers.noise(b) if buffers is not None else None
        g = self.noise(b, noise, max_score, out=w)
        _colour_in_place(self.cholesky, g)  # (d, b): g − μ = L w
        y = buffers.block(b) if buffers is not None else np.empty((self.d, b + PAD), np.float32)
        self.table(g, shift=self.mean, out=y)
        return y

    def _features(self, b: int, noise: torch.Generator, max_score: float = 8.0) -> torch.Tensor:
        """``b`` draws of the proposal: ``y`` (b, d) float32 (a transposed, feature-major view)."""
        with self._one_blas_thread.limit(limits=1):
            block = self._block(b, noise, max_score)
        return torch.from_numpy(block)[:, :b].T

    def first_pass_rows(self, y: np.ndarray, n: int, out: np.ndarray | None = None) -> torch.Tensor:
        """The first ``n`` draws of a feature-major block ``y`` (d, ≥n), draw-major and
        contiguous in the precision of the guide's first pass: (n, d) bfloat16 (rounded
        as torch rounds) or float32; written into ``out`` ((n, d), uint16 for bfloat16's
        bits, else float32) if given."""
        if self.guide.first_pass == "bfloat16":
            bits = np.empty((n, self.d), np.uint16) if out is None else out
            _bfloat16_rows(y, n, bits)
            return torch.from_numpy(bits).view(torch.bfloat16)
        rows = np.empty((n, self.d), np.float32) if out is None else out
        _gather_rows(y, np.arange(n), rows)
        return torch.from_numpy(rows)

    @torch.inference_mode()
    def draw_into(
        self,
        out: np.ndarray,
        b: int,
        class_index: int,
        noise: torch.Generator,
        power: float = 1.0,
    ) -> int:
        """Draw ``b`` proposals and write the kept ones, in order, into ``out`` (m, d)
        (float32 or float64; those beyond its ``m`` rows are dropped); returns how many
        were kept in all.

        Each block draws its base noise (``b`` rows in all, in blocks of
        :data:`BLOCK_ROWS`) and then its uniforms from ``noise``. The blocks are made
        (noise, colouring, marginals, the guide's first-pass input) in a second thread
        while this one takes the guide's decisions on the block before: a pipeline of two
        stages, in block order, so the draws are those of one thread doing both in turn.
        """
        sizes = [min(BLOCK_ROWS, b - a) for a in range(0, b, BLOCK_ROWS)]
        kept = 0
        decided = self._decided_blocks(iter(sizes), class_index, noise, power)
        with contextlib.closing(decided) as blocks:
            for block, rows in blocks:
                if kept < out.shape[0]:
                    _gather_rows(block, rows, out[kept:])
                kept += int(rows.size)
        return kept

    def _decided_blocks(
        self, sizes: Iterator[int], class_index: int, noise: torch.Generator, power: float
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The blocks of ``sizes`` proposals, decided: ``(block, rows)`` per block, the
        feature-major block (d, m + PAD) and the indices of its kept draws (ascending).

        A pipeline of two stages: a second thread makes block k + 1 (its noise, then its
        uniforms, from ``noise``) while this one takes the guide's decisions on block k, so
        the draws are those of one thread doing both in turn. The block yielded is valid
        until the next one is asked for. Close the generator (or exhaust it) to stop the
        second thread.
        """
        sign = 1.0 if class_index == 0 else -1.0
        first_size = next(sizes, None)
        if first_size is None:
            return
        # two sets of block buffers, allocated here: block k is made into set k mod 2
        # while block k − 1 is decided on the other (memory that a short-lived thread
        # allocated would come from its own malloc arena, given back and faulted in anew)
        first16 = self.guide.first_pass == "bfloat16"
        buffers = [_BlockBuffers(self.d, first_size, first16) for _ in range(2)]

        @torch.inference_mode()  # (thread-local: as the buffers were made)
        def make(k: int, m: int) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
            block = self._block(m, noise, buffers=buffers[k % 2])
            u = torch.rand(m, generator=noise)
            return block, u, self.first_pass_rows(block, m, out=buffers[k % 2].first(m))

        with (
            self._one_blas_thread.limit(limits=1),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="rekindle-draw") as maker,
        ):
            m, k = first_size, 0
            upcoming: Future[tuple[np.ndarray, torch.Tensor, torch.Tensor]] | None
            upcoming = maker.submit(make, 0, m)
            while upcoming is not None:
                block, u, first = upcoming.result()
                following = next(sizes, None)
                if following is not None and following > first_size:
                    raise ValueError(f"blocks of at most {first_size} draws: {following}")
                upcoming = None if following is None else maker.submit(make, k + 1, following)
                y = torch.from_numpy(block)[:, :m].T
                with torch.inference_mode():
                    keep = self.guide.keep(y, self.guide.thresholds(u, power), sign, first=first)
                yield block, np.flatnonzero(keep.numpy())
                if following is not None:
                    m, k = following, k + 1

    def draw(
        self, b: int, class_index: int, noise: torch.Generator, power: float = 1.0
    ) -> np.ndarray:
        """``b`` proposals, of which the kept rows are returned: ``y`` (m, d) float32
        (:meth:`draw_into` a buffer of ``b`` rows)."""
        out = np.empty((b, self.d), np.float32)
        return out[: self.draw_into(out, b, class_index, noise, power)]


class GuidedStream:
    """The kept draws of one class as one stream: block after block of proposals, drawn
    from one noise generator, in order.

    :meth:`fill` writes the next kept draws into the caller's array; the kept draws of a
    block that do not fit wait for the next call. So the first ``n`` rows of a stream
    are the same whatever the sizes of the calls that took them, and no draw is thrown
    away between calls (each call of :meth:`GuidedSampler.draw_into` draws whole blocks
    and drops the kept rows beyond its array). The two-stage pipeline
    (:meth:`GuidedSampler.draw_into`) runs for the stream's whole life: close it (or use
    it as a context manager) to stop its second thread.

    Parameters
    ----------
    sampler : GuidedSampler
    class_index : int
        0 (relevant) or 1.
    noise : torch.Generator
        The stream's only source of randomness.
    power : float
        Exponent of the acceptance.
    min_acceptance : float
        Raise :class:`~rekindle.errors.GenerationError` once ≥ 100 000 draws have been
        made and fewer than this share of them kept.

    Attributes
    ----------
    drawn, kept : int
        Proposals drawn and kept so far (kept includes the draws waiting).
    """

    def __init__(
        self,
        sampler: GuidedSampler,
        class_index: int,
        noise: torch.Generator,
        power: float = 1.0,
        min_acceptance: float = 0.0,
    ) -> None:
        self.class_index = int(class_index)
        self.min_acceptance = float(min_acceptance)
        sizes = itertools.repeat(BLOCK_ROWS)
        self._blocks = sampler._decided_blocks(sizes, self.class_index, noise, power)
        self._waiting = np.empty((BLOCK_ROWS, sampler.d), np.float32)
        self._waiting_rows = slice(0, 0)  # the kept draws of the last block not yet taken
        self.drawn = self.kept = 0

    def fill(self, out: np.ndarray) -> None:
        """Write the next ``len(out)`` kept draws ``y`` into ``out`` (m, d), float32 or
        float64 (the draws are float32-exact)."""
        waiting = self._waiting_rows
        n = out.shape[0]
        at = min(n, waiting.stop - waiting.start)
        out[:at] = self._waiting[waiting.start : waiting.start + at]
        self._waiting_rows = slice(waiting.start + at, waiting.stop)
        while at < n:
            block, rows = next(self._blocks)
            self.drawn += BLOCK_ROWS
            self.kept += int(rows.size)
            self._check_acceptance()
            _gather_rows(block, rows, out[at:])
            used = min(int(rows.size), n - at)
            if used < rows.size:
                _gather_rows(block, rows[used:], self._waiting)
                self._waiting_rows = slice(0, int(rows.size) - used)
            at += used

    def _check_acceptance(self) -> None:
        if self.drawn >= 100_000 and self.kept < self.min_acceptance * self.drawn:
            from rekindle.errors import GenerationError

            raise GenerationError(
                f"the relevance guide keeps {self.kept} of {self.drawn} draws of class "
                f"{self.class_index}: this generator cannot make that class (try a lower --power)"
            )

    def close(self) -> None:
        """Stop the pipeline's second thread (after the block it is making)."""
        self._blocks.close()

    def __enter__(self) -> GuidedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _BlockBuffers:
    """Memory for one block of up to ``rows`` draws: its noise (d, m), its feature-major
    scores (d, m + :data:`PAD`) and the guide's draw-major input (m, d), each handed out
    as a contiguous view for the block's ``m`` draws."""

    def __init__(self, d: int, rows: int, bfloat16: bool) -> None:
        self.d = d
        self._noise = torch.empty(d * rows)
        self._block = np.empty(d * (rows + PAD), np.float32)
        self._first = np.empty(rows * d, np.uint16 if bfloat16 else np.float32)

    def noise(self, m: int) -> torch.Tensor:
        """(d, m) float32 tensor."""
        return self._noise[: self.d * m].view(self.d, m)

    def block(self, m: int) -> np.ndarray:
        """(d, m + PAD) float32 array."""
        return self._block[: self.d * (m + PAD)].reshape(self.d, m + PAD)

    def first(self, m: int) -> np.ndarray:
        """(m, d) uint16 (bfloat16 bits) or float32 array."""
        return self._first[: m * self.d].reshape(m, self.d)


def _linear_silu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``silu(x Wᵀ + b)`` in one oneDNN kernel (the fusion torch's own compiler emits on CPU)."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "swish", [], "")
