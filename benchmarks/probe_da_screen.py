"""How well a learned screen can screen pCN moves of E. coli class members (delayed acceptance).

Prior draws are labelled; the members of ``max_eig < X`` each make ``--moves`` pCN proposals
(step ``--beta``), all labelled. The ridge screen of :mod:`rekindle.classes.surrogate` is
fitted on the prior draws; on the held-out quarter of the moves the table gives the
screen's AUC (global ``f(u')``, local ``λ(u) + f(u') − f(u)``, the start's label alone) and,
for delayed acceptance with the local screen at several ``τ`` and with a logistic
calibration of (start's violation, ``f(u') − f(u)``) fitted on the other moves, the
stage-1 pass rate, accepted moves per step and accepted moves per label, against plain pCN
(every proposal labelled: accepted per label = the fraction of proposals in the class).

    python benchmarks/probe_da_screen.py --bound -28 --prior 24000 --moves 8 --beta 0.15
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from rekindle.classes import parse_where
from rekindle.classes.generate import class_engine
from rekindle.classes.sampler import saturation_of
from rekindle.classes.surrogate import fit_surrogate, screen_accuracy
from rekindle.io.model_bundle import load_bundle


def _logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weights ``(1 + k,)`` of a logistic regression (standardised inside, BFGS)."""
    mu, sd = x.mean(axis=0), x.std(axis=0)
    z = np.c_[np.ones(len(x)), (x - mu) / sd]

    def nll(w: np.ndarray) -> float:
        p = expit(z @ w)
        return -float(np.sum(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))

    w = minimize(nll, np.zeros(z.shape[1]), method="BFGS").x
    return np.r_[w[0] - np.sum(w[1:] * mu / sd), w[1:] / sd]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bound", type=float, default=-28.0)
    ap.add_argument("--prior", type=int, default=24_000)
    ap.add_argument("--moves", type=int, default=8)
    ap.add_argument("--beta", type=float, default=0.15)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    bundle = load_bundle("ecoli", "fdp1")
    spec = parse_where(f"max_eig < {args.bound}")
    measure, _, _ = class_engine(bundle.model, bundle.physiology, spec)
    d = len(bundle.model.km_names)
    rng = np.random.default_rng(args.seed)
    u = rng.standard_normal((args.prior, d))
    lam = np.asarray(measure(saturation_of(u)), float)
    member = spec.eig_member(lam)
    start, lam0 = np.repeat(u[member], args.moves, 0), np.repeat(lam[member], args.moves)
    b = args.beta
    end = np.sqrt(1 - b * b) * start + b * rng.standard_normal(start.shape)
    lam1 = np.asarray(measure(saturation_of(end)), float)
    stay = spec.eig_member(lam1)
    test = rng.random(lam1.size) < 0.25
    sur = fit_surrogate(u, lam, spec)
    f0, f1 = sur.predict(start), sur.predict(end)
    local = lam0 + f1 - f0
    print(
        f"class < {args.bound:g}: {member.sum()} members of {args.prior} prior draws, "
        f"{lam1.size} moves (β {b:g}), {stay.mean():.3f} stay in the class"
    )
    auc = {
        "global f(u')": screen_accuracy(-f1[test], stay[test])["auc"],
        "local λ(u) + f(u') − f(u)": screen_accuracy(-local[test], stay[test])["auc"],
        "start's label alone": screen_accuracy(-lam0[test], stay[test])["auc"],
    }
    print("| screen | AUC (held-out moves) |\n|---|---|")
    for k, v in auc.items():
        print(f"| {k} | {v:.3f} |")
    err = (lam1 - local)[test & np.isfinite(lam1)]
    rms = float(np.sqrt(np.mean(err[np.abs(err) < np.quantile(np.abs(err), 0.5)] ** 2)))
    print("\n| screen | stage-1 pass | accepted / step | accepted / label |\n|---|---|---|---|")
    plain = stay[test].mean()
    print(f"| plain pCN | 1.000 | {plain:.3f} | {plain:.3f} |")
    back = lam1 + f0 - f1  # the reverse move's local prediction
    for k in (0.1, 0.5, 1.0, 2.0):
        s = sur.with_tau(k * rms)
        a1 = np.minimum(1, s.class_score(local) / s.class_score(lam0))[test]
        a1b = np.minimum(1, s.class_score(back) / s.class_score(lam1))[test]
        acc = np.mean(stay[test] * np.minimum(a1, a1b))
        print(
            f"| local ridge, τ = {k * rms:.2f} | {a1.mean():.3f} | {acc:.3f} "
            f"| {acc / a1.mean():.3f} |"
        )
    x = np.c_[spec.violation(lam0), f1 - f0]
    xb = np.c_[spec.violation(lam1), f0 - f1]
    w = _logistic(x[~test], stay[~test])
    p = expit(w[0] + x[test] @ w[1:])
    pb = expit(w[0] + np.nan_to_num(xb[test], nan=1e3, posinf=1e3) @ w[1:])
    for power in (1.0, 2.0):
        top = p.max() ** power
        a1, a1b = np.minimum(1, p**power / top), np.minimum(1, pb**power / top)
        acc = np.mean(stay[test] * np.minimum(a1, a1b))
        print(f"| logistic^{power:g} | {a1.mean():.3f} | {acc:.3f} | {acc / a1.mean():.3f} |")


if __name__ == "__main__":
    main()
