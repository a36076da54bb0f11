"""Members of a class of max Re(λ): the class sampler's deliveries against ORACLE + exact filter.

For every class ``max_eig < X``: members/s after fitting (production chains only),
time to ``--target`` members from scratch (levels + production, extrapolated from the
measured production rate), ORACLE + filter (its measured labelling rate × the class's
incidence in an ORACLE draw, or the sampler's P(class) estimate where that draw holds
too few members), and fidelity against the members of that independent ORACLE draw
(width ratio, C2ST and its noise floor, KS of max Re(λ), repeated states), and for the
fitted-proposal routes (``--delivery best|imh|rejection``) the labels per member each route
was estimated to cost, the bound M, the truncated mass and the ESS of the weights.

    python benchmarks/bench_classes.py --classes -9 -25 -28 -30 -35 --n 2000 --oracle 30000 \
        --delivery best

A reference of ≥ 2 000 members for a rare class needs millions of ORACLE sets: they are
drawn ``--oracle-chunk`` at a time and only the K_M of the sets below the loosest class are
kept (``--classes -35 --oracle 5000000``: ~2 000 members at −35, 12 min on 2 cores);
``--reference-cache ref.npz`` keeps the reference for the next run.

With ``--returns``, the costly class "relevant and returns" (the paper's protocol: 10
perturbations, back within 1 % at 21 min) instead: ORACLE + filter (every relevant set
integrated with all 10 perturbations; also the fidelity reference, another seed) against
the sequential return test (exact: stop at a set's first perturbation that does not
return) and the sequential test behind the learned screen
(:mod:`rekindle.classes.screen`): verified members/s and integrations per member of each
and their ratios to ORACLE + filter, P(class), the bounds 1/P(class) (ORACLE draws per
member) and 1/P(returns | relevant) (the most any screen of the candidates can save in
integrations), the screen's audit (miss rate against its target) and the fidelity of each
arm's members against the reference's (width, C2ST against its floor, KS of max Re(λ)).

    python benchmarks/bench_classes.py --returns --n 300 --population 300
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from rekindle.analysis.fidelity import c2st, c2st_noise_floor, ks_distance, width_ratios
from rekindle.classes import ClassSamplerSettings, parse_where
from rekindle.classes.generate import class_engine
from rekindle.classes.sampler import sample_class
from rekindle.io.model_bundle import load_bundle
from rekindle.kinetics.model import KineticModel
from rekindle.kinetics.physiology import Physiology
from rekindle.sampling import sample_parameters
from rekindle.sampling.oracle import km_from_saturation, km_reference_concentrations


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", type=float, nargs="+", default=[-9, -25, -28, -30, -35])
    ap.add_argument("--n", type=int, default=2000, help="members drawn per class")
    ap.add_argument("--target", type=int, default=10_000, help="members for 'from scratch'")
    ap.add_argument("--oracle", type=int, default=30_000, help="independent ORACLE draw")
    ap.add_argument(
        "--oracle-chunk", type=int, default=200_000, help="ORACLE sets sampled at a time"
    )
    ap.add_argument(
        "--reference-cache",
        help=".npz file: the ORACLE reference is read from it when it was drawn with the same "
        "--oracle and --seed and kept the sets of the loosest class, else drawn and written",
    )
    ap.add_argument("--min-reference", type=int, default=500)
    ap.add_argument(
        "--worst", type=int, default=3, help="ln K_M listed with the largest KS per class"
    )
    ap.add_argument("--oracle-retime", type=int, default=5000, help="sets re-timed per class")
    ap.add_argument("--thin", type=int, default=50)
    ap.add_argument("--population", type=int, default=4000)
    ap.add_argument("--burn", type=int, default=200)
    defaults = ClassSamplerSettings()
    ap.add_argument(
        "--block",
        type=int,
        default=defaults.block_size,
        help="pCN chains' class-fitted block (0: plain pCN)",
    )
    ap.add_argument(
        "--block-below",
        type=float,
        default=defaults.block_below_beta,
        help="fit the block when pCN's β is below",
    )
    ap.add_argument(
        "--jumps",
        type=int,
        default=defaults.block_jumps,
        help="independence jumps per step of chains with a block",
    )
    ap.add_argument("--target-acceptance", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--sampler-seed",
        type=int,
        help="seed of the class sampler (default --seed; the reference keeps --seed's)",
    )
    ap.add_argument("--delivery", default="best", help="auto, best, filter, pcn, imh, rejection")
    ap.add_argument("--returns", action="store_true", help="the row 'relevant and returns'")
    ap.add_argument("--where", default="relevant and returns", help="--returns: the class")
    ap.add_argument("--recall", type=float, default=0.95, help="--returns: screen recall")
    ap.add_argument("--audit", type=float, default=0.1, help="--returns: audit fraction")
    ap.add_argument("--warmup", type=int, default=200, help="--returns: screen warm-up")
    ap.add_argument(
        "--arms",
        nargs="+",
        default=["ORACLE + filter", "screen", "sequential test (exact)"],
        help="--returns: which arms (ORACLE + filter is the reference and always runs)",
    )
    ap.add_argument(
        "--delayed-acceptance",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="pCN chains screen proposals with a learned surrogate (exact delayed acceptance)",
    )
    args = ap.parse_args()
    if args.returns:
        returns_row(args)
        return

    bundle = load_bundle("ecoli", "fdp1")
    m, p = bundle.model, bundle.physiology
    km_cols = [m.parameter_names.index(k) for k in m.km_names]
    t0 = time.perf_counter()
    cache = Path(args.reference_cache) if args.reference_cache else None
    key = {"n": args.oracle, "seed": args.seed + 1000, "keep_below": max(args.classes)}
    if (
        cache is not None
        and cache.exists()
        and _covers(json.loads(str(np.load(cache)["key"])), key)
    ):
        with np.load(cache) as f:
            lam_o, km_o, lam_kept = f["lam"], f["km"], f["lam_kept"]
        print(f"ORACLE: {args.oracle} sets read from {cache}")
    else:
        lam_o, km_o, lam_kept = oracle_reference(
            m, p, args.oracle, args.seed + 1000, max(args.classes), args.oracle_chunk, km_cols
        )
        oracle_rate = args.oracle / (time.perf_counter() - t0)
        print(f"ORACLE: {args.oracle} sets at {oracle_rate:,.0f} sets/s (labelled)")
        if cache is not None:
            np.savez(cache, lam=lam_o, km=km_o, lam_kept=lam_kept, key=json.dumps(key))
    x = km_reference_concentrations(m, p)
    header = (
        "| class | P(class) | levels | s to fit | members/s after fit | ORACLE+filter /s "
        "| × after fit | s to 10⁴ scratch | ORACLE s to 10⁴ | × scratch | repeated "
        "| ref members | width | C2ST (floor) | KS max Re(λ) | mode | labels/member "
        "| est. labels/member filter/pCN/IMH/rej | M | truncated mass | ESS "
        "| labels/member after fit | acceptance | stage-1 pass | stage-2 acc. "
        "| screen AUC / FN / FP |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    notes: list[str] = []
    for bound in args.classes:
        spec = parse_where(f"max_eig < {bound}")
        measure, _, _ = class_engine(m, p, spec)
        settings = ClassSamplerSettings(
            seed=args.seed if args.sampler_seed is None else args.sampler_seed,
            thin=args.thin,
            population=args.population,
            burn_steps=args.burn,
            block_size=args.block,
            block_below_beta=args.block_below,
            block_jumps=args.jumps,
            target_acceptance=args.target_acceptance,
            delivery=args.delivery,
            delayed_acceptance=args.delayed_acceptance,
        )
        draw = sample_class(spec, measure, len(m.km_names), args.n, settings)
        d = draw.diagnostics
        rate = d["members_per_second_production"]
        ref = lam_o < bound
        p_class = ref.mean() if ref.sum() >= 100 else d["p_class"]
        # ORACLE's labelling rate re-timed beside each class (the machine is shared)
        t0 = time.perf_counter()
        sample_parameters(m, p, args.oracle_retime, seed=args.seed + 2000)
        oracle_rate = args.oracle_retime / (time.perf_counter() - t0)
        oracle_members = oracle_rate * p_class
        if d["labels_production"] == 0:  # the first (prior) population held them all:
            rate = oracle_members  # after fitting this route is ORACLE + filter itself
        # the first population's members count when they are ORACLE draws (mode rejection)
        from_levels = (
            p_class * args.population if draw.mode == "rejection" and not d["levels"] else 0.0
        )
        scratch = d["seconds_fit"] + max(args.target - from_levels, 0) / rate
        oracle_scratch = args.target / oracle_members
        row = [
            f"< {bound:g}",
            f"{p_class:.3g}",
            str(d["n_levels"]),
            f"{d['seconds_fit']:.1f}",
            f"{rate:,.0f}",
            f"{oracle_members:,.2f}",
            f"{rate / oracle_members:.1f}",
            f"{scratch:,.0f}",
            f"{oracle_scratch:,.0f}",
            f"{oracle_scratch / scratch:.1f}",
            f"{d['duplicate_fraction']:.3f}",
            str(int(ref.sum())),
        ]
        if ref.sum() >= args.min_reference:
            km_g = km_from_saturation(draw.saturation, x)
            k = min(ref.sum(), km_g.shape[0])
            km_ref = km_o[lam_kept < bound]
            w = width_ratios(km_g[:k], km_ref[:k])[0]
            c = c2st(np.log(km_g[:k]), np.log(km_ref[:k]), seed=args.seed)
            floor = c2st_noise_floor(np.log(km_ref), k // 2 if ref.sum() < 2 * k else k)
            ks = ks_distance(draw.max_real_eigenvalue, lam_kept[lam_kept < bound])
            row += [f"{w:.3f}", f"{c:.3f} ({floor:.3f})", f"{ks:.3f}"]
            notes.append(_worst_coordinates(bound, m.km_names, km_g, km_ref, args.worst))
        else:
            row += ["–", "–", "–"]
        if draw.mode == "chains":
            block = (
                f" (β {d['beta_at_block_fit']:.3f} before the block), block of "
                f"{d['block_size']}: γ {d['gamma']:.3f}, acceptance "
                f"{d['acceptance_block_production']:.2f}"
                + (
                    f", {d['block_jumps']} jumps/step accepted at "
                    f"{d['acceptance_jump_production']:.3f}"
                    if d.get("block_jumps")
                    else ""
                )
                + (
                    f" (jumps in the burn-in: {d['acceptance_jump_burn_in']:.4f})"
                    if "acceptance_jump_burn_in" in d
                    else ""
                )
                if "block_size" in d
                else ", no block"
            )
            notes.append(
                f"< {bound:g}: pCN β {d['beta']:.3f}{block}; slow_mixing {d['slow_mixing']}"
            )
        if "proposal_cost_measured" in d:
            notes.append(
                f"< {bound:g}: a draw of the fitted proposal cost "
                f"{d['proposal_cost_measured']:.3f} labels in the fit rounds "
                f"(best prices it at {settings.proposal_cost})"
            )
        est = d.get("labels_per_member_estimate") or {}
        keys = ("rejection", "chains", "imh", "proposal-rejection")
        trunc = d.get("truncated_mass_delivery", d.get("truncated_mass_fit"))
        ess = d.get("ess_delivery", d.get("ess_fit"))
        row += [
            draw.mode,
            f"{d['labels_production'] / args.n:.1f}",
            "/".join(f"{est[k]:.0f}" for k in keys) if est else "–",
            f"{d['bound']:.3g}" if "bound" in d else "–",
            f"{trunc:.2g}" if trunc is not None else "–",
            f"{ess:.0f}" if ess is not None else "–",
            f"{d.get('labels_per_member_production', float('nan')):.1f}",
            f"{d['acceptance_production']:.3f}" if d["acceptance_production"] else "–",
            f"{d['stage1_pass_rate']:.3f}" if "stage1_pass_rate" in d else "–",
            f"{d['stage2_acceptance']:.3f}" if "stage2_acceptance" in d else "–",
        ]
        acc = d.get("screen_accuracy")
        row.append(
            f"{acc['auc']:.3f} / {acc['false_negative']:.3f} / {acc['false_positive']:.3f}"
            if acc and acc["auc"] is not None
            else "–"
        )
        print("| " + " | ".join(row) + " |", flush=True)
    print("\n".join(["", *notes]))


def _worst_coordinates(
    bound: float, names: list[str], km: np.ndarray, km_ref: np.ndarray, k: int
) -> str:
    """The ``k`` ln K_M whose two-sample KS distance between the delivered members ``km``
    and the reference members ``km_ref`` is largest, and the median over all of them."""
    ks = np.array([ks_distance(np.log(km[:, j]), np.log(km_ref[:, j])) for j in range(km.shape[1])])
    worst = ", ".join(f"{names[j]} {ks[j]:.3f}" for j in np.argsort(-ks)[:k])
    crit = 1.36 * np.sqrt(1 / km.shape[0] + 1 / km_ref.shape[0])
    return (
        f"< {bound:g}: largest KS of ln K_M against the reference: {worst}; median "
        f"{np.median(ks):.3f} (5 % critical value {crit:.3f})"
    )


def _covers(cached: dict, wanted: dict) -> bool:
    """Whether a cached reference serves: same draw, and it kept every set the classes need."""
    same = cached["n"] == wanted["n"] and cached["seed"] == wanted["seed"]
    return same and cached["keep_below"] >= wanted["keep_below"]


def oracle_reference(
    model: KineticModel,
    physiology: Physiology,
    n: int,
    seed: int,
    keep_below: float,
    chunk: int,
    km_cols: list[int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An independent ORACLE draw of ``n`` sets, sampled ``chunk`` at a time: max Re(λ) of
    every set ``(n,)``, and the K_M ``(k, d)`` and max Re(λ) ``(k,)`` of the ``k`` sets below
    ``keep_below`` (1/h) only, so that a reference of millions of sets for a rare class
    fits in memory. The first chunk uses ``seed`` (a draw of ≤ ``chunk`` sets is the
    one-call draw of that seed), chunk ``i`` the seed ``seed + 7919·i``."""
    lams, kms, kept = [], [], []
    for i, start in enumerate(range(0, n, chunk)):
        params, lam, _ = sample_parameters(
            model, physiology, min(chunk, n - start), seed=seed + 7919 * i
        )
        below = lam < keep_below
        lams.append(lam)
        kms.append(params[below][:, km_cols])
        kept.append(lam[below])
    return np.concatenate(lams), np.concatenate(kms), np.concatenate(kept)


def returns_row(args: argparse.Namespace) -> None:
    """The costly class: ORACLE + filter against the sequential test and the screen."""
    bundle = load_bundle("ecoli", "fdp1")
    m, p = bundle.model, bundle.physiology
    spec = parse_where(args.where)
    assert spec.returns is not None, "--returns needs a class with a returns clause"
    x = km_reference_concentrations(m, p)
    d = len(m.km_names)
    base = ClassSamplerSettings(
        population=args.population,
        thin=args.thin,
        screen_recall=args.recall,
        screen_audit=args.audit,
        screen_warmup=args.warmup,
    )
    arms = {
        "ORACLE + filter": (args.seed + 1000, False, False),
        "screen": (args.seed, False, True),
        "sequential test (exact)": (args.seed + 2000, True, False),
        "sequential + screen": (args.seed + 3000, True, True),
    }
    runs = {}
    for name, (seed, sequential, screen) in arms.items():
        if name not in args.arms and name != "ORACLE + filter":
            continue
        settings = base.replace(seed=seed, screen=screen, sequential_returns=sequential)
        measure, returns, _ = class_engine(m, p, spec, sequential=sequential)
        t0 = time.perf_counter()
        draw = sample_class(spec, measure, d, args.n, settings, returns=returns)
        seconds = time.perf_counter() - t0
        diag = draw.diagnostics
        runs[name] = (draw, seconds)
        print(
            f"{name}: mode {draw.mode}, {diag['members_found']} members found in "
            f"{seconds:.0f} s, {diag['labels_levels'] + diag['labels_production']} sets "
            f"labelled, {diag['integrations_levels'] + diag['integrations_production']} "
            f"models perturbed, {diag['perturbation_integrations']} integrations",
            flush=True,
        )
    ref, ref_s = runs["ORACLE + filter"]
    rd = ref.diagnostics
    # ORACLE + filter: i.i.d. prior draws (no level), every candidate integrated
    assert ref.mode == "rejection" and not rd["levels"], "not ORACLE + filter"
    candidates = rd["integrations_levels"] + rd["integrations_production"]
    p_eig = candidates / (rd["labels_levels"] + rd["labels_production"])
    p_ret = rd["members_found"] / candidates
    p_class = p_eig * p_ret
    print(
        f"\n{args.where}: P(relevant) {p_eig:.3f}, P(returns | relevant) {p_ret:.3f}, "
        f"P(class) {p_class:.3f}; bounds: 1/P(class) = {1 / p_class:.2f} ORACLE draws per "
        f"member, 1/P(returns | relevant) = {1 / p_ret:.2f} (the most a screen of the "
        "candidates can save in integrations)\n"
    )
    rate_ref = rd["members_found"] / ref_s
    int_ref = rd["perturbation_integrations"] / rd["members_found"]
    km_r = km_from_saturation(ref.saturation, x)
    floor = c2st_noise_floor(np.log(km_r), km_r.shape[0] // 2)
    header = (
        "| arm | members/s | × members/s | integrations/member | × integrations "
        "| turned away | audit miss rate (target) | AUC (out of fold) | width "
        "| C2ST (floor) | KS max Re(λ) |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, (draw, seconds) in runs.items():
        dg = draw.diagnostics
        rate = dg["members_found"] / seconds
        per = dg["perturbation_integrations"] / dg["members_found"]
        row = [name, f"{rate:.3f}", f"{rate / rate_ref:.2f}", f"{per:.2f}", f"{int_ref / per:.2f}"]
        s = dg.get("screen")
        if s and s.get("used"):
            seen = s["candidates_warmup"] + s["candidates_screened"]
            row += [
                f"{s['turned_away']} of {seen}",
                f"{s['miss_rate']:.3f} ({1 - args.recall:.2f}) of {s['audit_members']}"
                if s["miss_rate"] is not None
                else "–",
                f"{s['auc_out_of_fold']:.3f}" if s["auc_out_of_fold"] is not None else "–",
            ]
        else:
            row += ["0", "–", "–"]
        if draw is ref:
            row += ["(reference)", f"– ({floor:.3f})", "–"]
        else:
            km_g = km_from_saturation(draw.saturation, x)
            w = width_ratios(km_g, km_r)[0]
            c = c2st(np.log(km_g), np.log(km_r), seed=args.seed)
            ks = ks_distance(draw.max_real_eigenvalue, ref.max_real_eigenvalue)
            row += [f"{w:.3f}", f"{c:.3f} ({floor:.3f})", f"{ks:.3f}"]
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
