"""Validation analyses of model populations and generators (paper Figs. 2–4).

dynamics (max Re(λ) and τ distributions), initial_states / perturbation /
perturbation_result (return to the steady state after perturbations, on
:mod:`rekindle.integrate`), trajectories (PCA), interpretability (KL ranking of the K_M),
subpopulations (deciles), populations (unique names), transfer (fine-tuning across
physiologies). The stages in :mod:`rekindle.stages` wrap them with their files and figures.
"""
