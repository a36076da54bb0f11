"""ORACLE-style sampling of labelled kinetic parameter sets."""

from rekindle.sampling.oracle import (
    ChunkResult,
    SamplingSettings,
    km_from_saturation,
    km_reference_concentrations,
    sample_chunk,
    sample_dataset,
    sample_parameters,
    saturation_from_km,
)

__all__ = [
    "ChunkResult",
    "SamplingSettings",
    "km_from_saturation",
    "km_reference_concentrations",
    "sample_chunk",
    "sample_dataset",
    "sample_parameters",
    "saturation_from_km",
]
