"""Train one GAN repeat with a recipe and measure what its kept generator gives.

Usage::

    python tools/gan_recipe_trial.py DATA.h5 OUT/ [--train '{"epochs": 30}']
        [--arch '{"label_encoding": "scalar"}'] [--scaling saturation] [--n 3000] [--seed 7]

Prints, for ``--n`` freshly generated relevant-class models of the kept generator: the
engine incidence, and the width of their ln K_M against the relevant training sets
(spread ratio = median std ratio, IQR ratio = median interquartile-range ratio), plus the
training time. The training folder ``OUT/`` holds ``metrics.csv`` and ``generator.pt``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from rekindle.data import load_model, load_physiology
from rekindle.gan import ArchitectureConfig, KineticGAN, TrainingConfig
from rekindle.gan.monitoring import WidthReference, width_ratios
from rekindle.gan.preprocessing import train_test_split_indices
from rekindle.io.dataset import read_dataset
from rekindle.kinetics import KineticSystem
from rekindle.kinetics.labelling import Labeller
from rekindle.pipeline import make_scaler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--train", default="{}", help="TrainingConfig fields (JSON)")
    ap.add_argument("--arch", default="{}", help="ArchitectureConfig fields (JSON)")
    ap.add_argument("--scaling", default="saturation")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    ds = read_dataset(args.data)
    model = load_model(str(ds.metadata["model"]))
    phys = load_physiology(model.name, str(ds.metadata["physiology"]))
    system = KineticSystem(model)
    labeller = Labeller(system, phys, n_jobs=1)
    km = system.km_of(ds.parameters)
    tcfg = TrainingConfig.from_dict(json.loads(args.train))
    arch = ArchitectureConfig.from_dict(json.loads(args.arch))
    gan = KineticGAN(
        km,
        ds.relevant,
        model.km_names,
        {"model": model.name, "physiology": phys.name},
        architecture=arch,
        scaler=make_scaler(args.scaling, model, phys),
    )
    t0 = time.perf_counter()
    res = gan.train(labeller, tcfg, args.output)
    seconds = time.perf_counter() - t0
    train_idx, _ = train_test_split_indices(km.shape[0], tcfg.test_fraction, tcfg.split_seed)
    reference = WidthReference.of(km[train_idx][ds.relevant[train_idx]])
    generated = gan.generate(args.n, "relevant", seed=args.seed)
    incidence = float(np.mean(labeller(generated) < gan.threshold))
    spread, iqr = width_ratios(generated, reference)
    print(
        json.dumps(
            {
                "incidence": round(incidence, 4),
                "spread_ratio": round(spread, 3),
                "iqr_ratio": round(iqr, 3),
                "best_epoch": res.best_epoch,
                "train_seconds": round(seconds, 1),
                "train": json.loads(args.train),
                "arch": json.loads(args.arch),
                "scaling": args.scaling,
            }
        )
    )


if __name__ == "__main__":
    main()
