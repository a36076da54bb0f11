"""Publication-style figures for REKINDLE analyses (matplotlib, Agg backend).

Every public plotting function writes one PNG (150 dpi, fixed pixel size) and
returns its :class:`pathlib.Path`.  No function touches the global pyplot state:
figures are created as :class:`matplotlib.figure.Figure` objects bound to an Agg
canvas, so the modules are safe to use from scripts, tests and worker processes.

Sub-modules
-----------
dynamics
    Distributions of max Re(lambda) and of the dominant time constant (Fig. 2d).
perturbation
    PCA trajectories of perturbed models and returned fractions (Fig. 2e).
interpretability
    Top-KL parameter distributions and decile analysis (Fig. 3a-b).
transfer
    Transfer-learning incidence curves and validation panels (Fig. 4b-c).
training
    GAN training curves (Fig. 2a-c).
"""
