"""The flow guide's size against its cost and the main job's incidence and fidelity.

Runs the main job (:func:`rekindle.pipeline.run_pipeline`, default settings) once per
guide on the same ORACLE data: each run gets its own folder under ``--output`` holding a
copy of ``--oracle`` (so the sampling stage is skipped and every guide learns from the
same sets) and trains the flow and a guide ``HIDDENxLAYERSxPASSES`` (``RunConfig``'s
``flow_guide_hidden``, ``flow_guide_layers``, ``flow_guide_epochs``; every other setting
is the default). Prints, per guide: its steps and parameters, its training
seconds, the training stage and the whole run (without sampling), the guide's held-out
cross-entropy and accuracy, the engine-labelled incidence of the validated models,
their width (median std ratio of ln K_M) and C2ST (with its noise floor).

    python benchmarks/bench_guide_width.py --oracle runs/default/oracle.h5 \
        --guides 256x3x12 384x3x12 512x3x12 --output runs/guide_width \
        [--perturbation-models 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from rekindle.flow.guide import RelevanceNet
from rekindle.pipeline import RunConfig, run_pipeline


def run_guide(oracle: Path, folder: Path, config: RunConfig) -> dict:
    """One main job in ``folder`` on a copy of ``oracle`` → its summary.json."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "oracle.h5").exists():
        shutil.copyfile(oracle, folder / "oracle.h5")
    run_pipeline(folder, config)
    return json.loads((folder / "summary.json").read_text())


def guide_parameters(config: RunConfig, n_features: int = 259) -> int:
    """Weights and biases of the run's guide network."""
    net = RelevanceNet(n_features, config.flow_guide_hidden, config.flow_guide_layers)
    return sum(p.numel() for p in net.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--oracle", type=Path, required=True, help="a default run's oracle.h5")
    ap.add_argument(
        "--guides",
        nargs="+",
        default=["256x3x12", "384x3x12", "512x3x12"],
        help="guides as HIDDENxLAYERSxPASSES (units per hidden layer, hidden layers, passes)",
    )
    ap.add_argument("--output", type=Path, default=Path("runs/guide_width"))
    ap.add_argument("--perturbation-models", type=int, default=20)
    args = ap.parse_args()
    rows = []
    for name in args.guides:
        hidden, layers, passes = name.split("x")
        config = RunConfig(
            n_perturbation_models=args.perturbation_models,
            flow_guide_hidden=int(hidden),
            flow_guide_layers=int(layers),
            flow_guide_epochs=float(passes),
        )
        s = run_guide(args.oracle, args.output / name, config)
        guide = s["flow_training"]["guide"]
        rows.append(
            f"| {hidden} × {layers} | {passes} | {guide['steps']} "
            f"| {guide_parameters(config):,} | {guide['seconds']:.1f} "
            f"| {s['timings_seconds']['training']:.1f} | {s['seconds']:.1f} "
            f"| {guide['validation_bce']:.4f} | {guide['validation_accuracy']:.4f} "
            f"| {s['incidence_generated']:.4f} | {s['spread_ratio_generated']:.3f} "
            f"| {s['c2st_generated']:.3f} ({s['c2st_noise_floor']:.3f}) |"
        )
    print(
        "| hidden × layers | passes | steps | parameters | guide s | training stage s "
        "| run s (no sampling) | held-out cross-entropy | held-out accuracy | incidence "
        "| width | C2ST (floor) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
