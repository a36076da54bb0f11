"""Feature maps of K_M (µM) onto the scaled space the generators learn in.

:class:`SaturationScaler` (``2σ − 1`` at the reference state; the flow's and the
cGAN's default), :class:`GlobalLogMinMaxScaler` (the authors' code: natural log, one
min/max over the training matrix) and :class:`LogMinMaxScaler` (log10, min/max per
feature). Each writes itself with ``to_dict`` and is rebuilt by
:func:`scaler_from_dict` (its ``kind`` names the map), so saved generators record
plain values, never a class path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "SCALINGS",
    "GlobalLogMinMaxScaler",
    "LogMinMaxScaler",
    "SaturationScaler",
    "Scaler",
    "scaler_from_dict",
]


class LogMinMaxScaler:
    """log10 transform followed by *per-feature* min-max scaling to [-1, 1].

    Not the authors' scaling (that is :class:`GlobalLogMinMaxScaler`: natural log and
    one min/max over the whole training matrix); kept as an option
    (``scaling="log10-minmax"``).

    ``transform(x) = (log10(x) - center) / half_range`` with
    ``center = (max + min) / 2`` and ``half_range = (max - min) / 2`` of the
    log10 training data per feature, so that the fitted data span exactly
    [-1, 1], matching the generator's tanh output. A constant feature
    (``max == min``) gets ``half_range = 1`` and maps to 0.

    Attributes
    ----------
    log_min, log_max : numpy.ndarray, shape (d,)
        Per-feature min and max of log10 of the fitted data (log10 of the
        physical unit of the input, e.g. log10 mM for K_M in mM).
    """

    kind = "log10-minmax"

    def __init__(self) -> None:
        self.log_min: np.ndarray | None = None
        self.log_max: np.ndarray | None = None

    # ------------------------------------------------------------------ basics
    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`from_dict`) has been called."""
        return self.log_min is not None

    @property
    def n_features(self) -> int:
        """Number of features ``d`` of the fitted data."""
        self._require_fitted()
        assert self.log_min is not None
        return int(self.log_min.shape[0])

    def _require_fitted(self) -> None:
        if self.log_min is None or self.log_max is None:
            raise RuntimeError("LogMinMaxScaler is not fitted; call fit() first")

    def _center_half_range(self) -> tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        assert self.log_min is not None and self.log_max is not None
        center = 0.5 * (self.log_max + self.log_min)
        half = 0.5 * (self.log_max - self.log_min)
        half = np.where(half > 0, half, 1.0)
        return center, half

    @staticmethod
    def _as_positive_2d(x: np.ndarray, name: str) -> np.ndarray:
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_models, n_features), got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains non-finite values")
        if np.any(arr <= 0):
            raise ValueError(f"{name} must be strictly positive (log transform); found values <= 0")
        return arr

    def _check_width(self, arr: np.ndarray) -> None:
        if arr.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features (as fitted), got {arr.shape[1]}")

    # ------------------------------------------------------------------ API
    def fit(self, x: np.ndarray) -> LogMinMaxScaler:
        """Learn per-feature log10 min and max.

        Parameters
        ----------
        x : numpy.ndarray, shape (n, d)
            Strictly positive parameter values in physical units (e.g. K_M).

        Returns
        -------
        LogMinMaxScaler
            ``self``.
        """
        arr = self._as_positive_2d(x, "x")
        if arr.shape[0] == 0:
            raise ValueError("cannot fit on zero rows")
        logx = np.log10(arr)
        self.log_min = logx.min(axis=0)
        self.log_max = logx.max(axis=0)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Map physical values to the scaled log space.

        Parameters
        ----------
        x : numpy.ndarray, shape (n, d)
            Strictly positive values in physical units.

        Returns
        -------
        numpy.ndarray of float64, shape (n, d)
            Scaled values; the fitted data lie in [-1, 1], new data may exceed it.
        """
        arr = self._as_positive_2d(x, "x")
        self._check_width(arr)
        center, half = self._center_half_range()
        return (np.log10(arr) - center) / half

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        """:meth:`fit` then :meth:`transform`."""
        return self.fit(x).transform(x)

    def inverse_transform(self, y: np.ndarray, clip: bool = False) -> np.ndarray:
        """Map scaled values back to physical units.

        Parameters
        ----------
        y : numpy.ndarray, shape (n, d)
            Scaled values.
        clip : bool
            Clip ``y`` to [-1, 1] first (restricts results to the fitted range).

        Returns
        -------
        numpy.ndarray of float64, shape (n, d)
            Positive values in the physical units of the fitted data.
        """
        arr = np.asarray(y, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"y must be 2-D (n_models, n_features), got shape {arr.shape}")
        self._check_width(arr)
        if clip:
            arr = np.clip(arr, -1.0, 1.0)
        center, half = self._center_half_range()
        return np.power(10.0, arr * half + center)

    def to_dict(self) -> dict[str, Any]:
        """Serialise to builtins (``weights_only``/JSON safe).

        Returns
        -------
        dict
            ``{"kind": "log10-minmax", "log_min": [...], "log_max": [...]}``
            with float lists of length ``d``.
        """
        self._require_fitted()
        assert self.log_min is not None and self.log_max is not None
        return {
            "kind": self.kind,
            "log_min": [float(v) for v in self.log_min],
            "log_max": [float(v) for v in self.log_max],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogMinMaxScaler:
        """Rebuild a fitted scaler from :meth:`to_dict` output.

        Raises
        ------
        ValueError
            If the dictionary is malformed.
        """
        if not isinstance(data, Mapping):
            raise ValueError("scaler data must be a mapping")
        if data.get("kind") != cls.kind:
            raise ValueError(f"scaler kind must be {cls.kind!r}, got {data.get('kind')!r}")
        try:
            lo = np.asarray(data["log_min"], dtype=np.float64)
            hi = np.asarray(data["log_max"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed scaler data: {exc}") from exc
        if lo.ndim != 1 or lo.shape != hi.shape or lo.size == 0:
            raise ValueError("scaler log_min/log_max must be equal-length non-empty vectors")
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(hi >= lo)):
            raise ValueError("scaler bounds must be finite with log_max >= log_min")
        scaler = cls()
        scaler.log_min, scaler.log_max = lo, hi
        return scaler


class SaturationScaler:
    """Log-transform centred at the reference concentrations, squashed into (-1, 1).

    ``transform(K) = tanh((ln x_ref − ln K)/2) = 2σ − 1`` with ``σ = x_ref/(x_ref + K)``
    the saturation of the enzyme site by its metabolite at the reference steady state
    (the quantity ORACLE samples uniformly). Unlike :class:`LogMinMaxScaler` the map is
    fixed by the physiology, not by the extreme values of a finite sample: ORACLE data
    are uniform in (−1, 1) instead of piling up at the centre of a min–max range set by
    the tails of ``logit σ``.

    Parameters
    ----------
    reference : numpy.ndarray, shape (d,)
        Reference concentration of the metabolite of each K_M, same unit as K_M.
    """

    kind = "saturation"
    # generator outputs are clipped to ±(1 − EDGE) before inversion: tanh in float32
    # reaches ±1 exactly, which would map to K_M = 0 or ∞
    EDGE = 1e-6

    def __init__(self, reference: np.ndarray) -> None:
        ref = np.asarray(reference, dtype=np.float64)
        if ref.ndim != 1 or ref.size == 0 or not np.all(np.isfinite(ref)) or np.any(ref <= 0):
            raise ValueError("reference concentrations must be a non-empty positive finite vector")
        self.reference = ref

    @property
    def is_fitted(self) -> bool:
        """Always ``True``: the map is fixed by the reference concentrations."""
        return True

    @property
    def n_features(self) -> int:
        """Number of features ``d``."""
        return int(self.reference.size)

    def _check(self, x: np.ndarray, name: str) -> np.ndarray:
        arr = LogMinMaxScaler._as_positive_2d(x, name)
        if arr.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got {arr.shape[1]}")
        return arr

    def fit(self, x: np.ndarray) -> SaturationScaler:
        """Check the width of ``x``; nothing to learn."""
        self._check(x, "x")
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """K_M (n, d) → ``2σ − 1`` (n, d) in (−1, 1)."""
        k = self._check(x, "x")
        return (self.reference - k) / (self.reference + k)

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        """:meth:`fit` then :meth:`transform`."""
        return self.fit(x).transform(x)

    def inverse_transform(self, y: np.ndarray, clip: bool = False) -> np.ndarray:
        """``2σ − 1`` (n, d) → K_M ``= x_ref (1 − y)/(1 + y)`` (n, d), always positive."""
        arr = np.asarray(y, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise ValueError(f"y must have shape (n, {self.n_features}), got {arr.shape}")
        arr = np.clip(arr, -1.0 + self.EDGE, 1.0 - self.EDGE)
        return self.reference * (1.0 - arr) / (1.0 + arr)

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "saturation", "reference": [...]}``."""
        return {"kind": self.kind, "reference": [float(v) for v in self.reference]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SaturationScaler:
        """Rebuild from :meth:`to_dict` output (``ValueError`` if malformed)."""
        if not isinstance(data, Mapping) or data.get("kind") != cls.kind:
            raise ValueError(f"scaler kind must be {cls.kind!r}")
        try:
            return cls(np.asarray(data["reference"], dtype=np.float64))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed scaler data: {exc}") from exc


class GlobalLogMinMaxScaler:
    """Natural log, then ONE min-max over the whole training matrix to [-1, 1].

    ``transform(K) = 2 (ln K - m) / (M - m) - 1`` with ``m``, ``M`` the smallest
    and largest ln K_M of all features of the fitted rows together: the scaling of
    the authors' code (EPFL-LCSB/rekindle, ``N1-rekindle-data-preprocessing.py``
    takes ``np.log`` of the K_M, ``helper.scale_range`` one ``np.min``/``np.max``
    of the whole matrix). Every feature keeps its relative position and width.

    Attributes
    ----------
    ln_min, ln_max : float or None
        Global min and max of ln of the fitted data (ln of its physical unit).
    n_features : int
        Width ``d`` of the fitted data.
    """

    kind = "ln-global-minmax"

    def __init__(self) -> None:
        self.ln_min: float | None = None
        self.ln_max: float | None = None
        self._d: int | None = None

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`from_dict`) has been called."""
        return self.ln_min is not None

    @property
    def n_features(self) -> int:
        """Number of features ``d`` of the fitted data."""
        if self._d is None:
            raise RuntimeError("GlobalLogMinMaxScaler is not fitted; call fit() first")
        return self._d

    def _range(self) -> tuple[float, float]:
        if self.ln_min is None or self.ln_max is None:
            raise RuntimeError("GlobalLogMinMaxScaler is not fitted; call fit() first")
        half = 0.5 * (self.ln_max - self.ln_min)
        return 0.5 * (self.ln_max + self.ln_min), half if half > 0 else 1.0

    def fit(self, x: np.ndarray) -> GlobalLogMinMaxScaler:
        """Learn the global min and max of ln ``x`` (n, d), positive."""
        arr = LogMinMaxScaler._as_positive_2d(x, "x")
        if arr.shape[0] == 0:
            raise ValueError("cannot fit on zero rows")
        logx = np.log(arr)
        self.ln_min, self.ln_max, self._d = float(logx.min()), float(logx.max()), arr.shape[1]
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """K (n, d) → scaled (n, d); the fitted data span [-1, 1] together."""
        arr = LogMinMaxScaler._as_positive_2d(x, "x")
        if arr.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features (as fitted), got {arr.shape[1]}")
        center, half = self._range()
        return (np.log(arr) - center) / half

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        """:meth:`fit` then :meth:`transform`."""
        return self.fit(x).transform(x)

    def inverse_transform(self, y: np.ndarray, clip: bool = False) -> np.ndarray:
        """Scaled (n, d) → K (n, d) in the fitted unit; ``clip`` to [-1, 1] first."""
        arr = np.asarray(y, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise ValueError(f"y must have shape (n, {self.n_features}), got {arr.shape}")
        if clip:
            arr = np.clip(arr, -1.0, 1.0)
        center, half = self._range()
        return np.exp(arr * half + center)

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "ln-global-minmax", "ln_min": m, "ln_max": M, "n_features": d}``."""
        self._range()
        return {
            "kind": self.kind,
            "ln_min": self.ln_min,
            "ln_max": self.ln_max,
            "n_features": self.n_features,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GlobalLogMinMaxScaler:
        """Rebuild from :meth:`to_dict` output (``ValueError`` if malformed)."""
        if not isinstance(data, Mapping) or data.get("kind") != cls.kind:
            raise ValueError(f"scaler kind must be {cls.kind!r}")
        try:
            lo, hi, d = float(data["ln_min"]), float(data["ln_max"]), int(data["n_features"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed scaler data: {exc}") from exc
        if not (np.isfinite(lo) and np.isfinite(hi) and hi >= lo and d > 0):
            raise ValueError("scaler bounds must be finite with ln_max >= ln_min, n_features > 0")
        scaler = cls()
        scaler.ln_min, scaler.ln_max, scaler._d = lo, hi, d
        return scaler


Scaler = LogMinMaxScaler | SaturationScaler | GlobalLogMinMaxScaler
#: Names of the feature maps (``scaling`` settings) -> scaler kinds.
SCALINGS = ("saturation", "ln-global-minmax", "log10-minmax")


def scaler_from_dict(data: Mapping[str, Any]) -> Scaler:
    """Rebuild any scaler from its ``to_dict`` output, by ``kind``."""
    kinds: dict[str, Any] = {
        LogMinMaxScaler.kind: LogMinMaxScaler,
        SaturationScaler.kind: SaturationScaler,
        GlobalLogMinMaxScaler.kind: GlobalLogMinMaxScaler,
    }
    kind = data.get("kind") if isinstance(data, Mapping) else None
    if kind not in kinds:
        raise ValueError(f"unknown scaler kind {kind!r} (known: {', '.join(kinds)})")
    return kinds[kind].from_dict(data)
