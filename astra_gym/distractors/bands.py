"""Similarity bands: the pure arithmetic of ASTRA's irrelevant-tool mixing (Eqs. 24–28).

For an in-scope tool ``τ_i`` with cosine similarities ``S_ij`` to the pool's
tools, the row is min-max normalised over the *other* tools (``j ≠ i``, by
name), ``S̃_ij = (S_ij − min_j S_ij) / (max_j S_ij − min_j S_ij)``, and each
candidate falls in one band:

========== =====================
``high``     ``S̃ > 0.85``
``medium``   ``0.4 ≤ S̃ ≤ 0.85``
``low``      ``S̃ < 0.4``
========== =====================

A row whose similarities are all equal has no spread to normalise: every
candidate gets ``S̃ = 0`` (the low band).

Example:
    >>> import numpy as np
    >>> row = normalize_row(np.array([0.9, 0.2, 0.5, 0.8]), np.array([True, False, False, False]))
    >>> [round(float(v), 3) for v in row[1:]]
    [0.0, 0.5, 1.0]
    >>> {band: members.tolist() for band, members in band_members(row, Thresholds()).items()}
    {'high': [3], 'medium': [2], 'low': [1]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BANDS", "Thresholds", "band_members", "normalize_row"]

#: The bands, in sampling order.
BANDS = ("high", "medium", "low")


@dataclass(frozen=True)
class Thresholds:
    """Band edges on the normalised similarity (the paper's 0.85 and 0.4).

    Attributes:
        high: ``S̃ > high`` is the high band.
        low: ``S̃ < low`` is the low band; the rest (both edges included) is medium.
    """

    high: float = 0.85
    low: float = 0.4

    def __post_init__(self) -> None:
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValueError(f"distractor thresholds need 0 <= low <= high <= 1, got "
                             f"low={self.low}, high={self.high}")

    @classmethod
    def from_options(cls, value: Thresholds | Mapping[str, Any] | Sequence[float] | None
                     ) -> Thresholds:
        """Thresholds from ``None`` (the paper's), a dict ``{"high", "low"}`` or ``(high, low)``.

        Args:
            value: The option as given.

        Returns:
            The thresholds.

        Raises:
            ValueError: For unknown keys or edges out of order.
        """
        if value is None:
            return cls()
        if isinstance(value, Thresholds):
            return value
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {"high", "low"})
            if unknown:
                raise ValueError(f"unknown threshold(s) {', '.join(unknown)}; use 'high' "
                                 "and 'low'")
            return cls(**{key: float(v) for key, v in value.items()})
        high, low = value
        return cls(float(high), float(low))

    def to_dict(self) -> dict[str, float]:
        """Plain data (for the index file and its key)."""
        return {"high": self.high, "low": self.low}


def normalize_row(similarity: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """Min-max normalise one row of similarities over the entries not excluded.

    Args:
        similarity: Cosine similarities of one in-scope tool to the pool (1-D).
        excluded: True where the pool entry is the tool itself (same name):
            it takes no part in the min and max and comes back as NaN.

    Returns:
        ``S̃`` in ``[0, 1]`` (NaN where excluded; 0 everywhere when the row
        has no spread).
    """
    values = np.asarray(similarity, dtype=np.float64)
    keep = ~np.asarray(excluded, dtype=bool)
    out = np.full(values.shape, np.nan)
    if not keep.any():
        return out
    kept = values[keep]
    low, high = float(kept.min()), float(kept.max())
    out[keep] = (kept - low) / (high - low) if high > low else 0.0
    return out


def band_members(normalized: np.ndarray, thresholds: Thresholds) -> dict[str, np.ndarray]:
    """The pool indices in each band of one normalised row (NaN entries in none).

    Args:
        normalized: ``S̃`` for one in-scope tool (from :func:`normalize_row`).
        thresholds: The band edges.

    Returns:
        ``{"high": indices, "medium": indices, "low": indices}``, each sorted.
    """
    values = np.asarray(normalized, dtype=np.float64)
    valid = ~np.isnan(values)
    safe = np.where(valid, values, 0.0)
    high = valid & (safe > thresholds.high)
    low = valid & (safe < thresholds.low)
    medium = valid & ~high & ~low
    return {"high": np.flatnonzero(high), "medium": np.flatnonzero(medium),
            "low": np.flatnonzero(low)}
