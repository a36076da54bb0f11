"""Readers and writers, one module per format.

:mod:`rekindle.io.atomic` is the one way outputs are written (temporary file, fsync,
rename; text, JSON, CSV, torch, figures); the format modules (model_yaml, skimpy_yaml,
skimpy_hdf5, steady_state_csv, dataset, sbml) build on it.
"""
