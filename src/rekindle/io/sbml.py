"""SBML export: one SBML Level 3 Version 2 model per parameter set.

Each file is the complete kinetic model at one parameter set, readable by any SBML
simulator (COPASI, libRoadRunner/Tellurium, AMICI):

* compartments with the set's volumes (``volume_<c>``); species in µM
  (``hasOnlySubstanceUnits = false``), the reference steady state of the physiology as
  initial concentrations; boundary metabolites are constant boundary species at the
  set's boundary concentrations;
* every rate law as MathML: the rate law of :mod:`rekindle.kinetics.mechanisms` with its
  small-molecule modifiers, ``v = V (F·M_f − B·M_b/K_eq)/D`` over its one denominator
  ``D`` (mathematically identical to the engine's ``v_fwd − v_bwd``); the kinetic law
  is ``size · v`` (µmol h⁻¹, SBML's extent per time) and a species in a compartment of
  another size gets the stoichiometry ``n · size_i / size``, so that
  ``d[x_i]/dt = Σ_j S_ij v_j`` exactly as in rekindle, whatever the volumes;
* every parameter of the set as a global parameter named as in the dataset
  (``vmax_forward_PGK``, ``km_substrate1_PGK``, …), with SBO terms for V_max, K_M,
  K_eq and Hill coefficients; boundary concentrations are the boundary species and
  ``volume_<c>`` the compartment sizes;
* units µM (``micromolar``), µmol, hours (``hour``), µM h⁻¹;
* the mechanism of each reaction (and its modifiers) in its notes and in an
  annotation of namespace :data:`ANNOTATION_NAMESPACE`; the model annotation records
  the parameter set, its label (max Re(λ), relevant), the physiology and the version.

Files are validated with libSBML's consistency checks before they are written
(atomically). Identifiers that are not valid SBML ``SId`` are rewritten (``-`` and
other characters to ``_``, a leading digit prefixed with ``_``); a clash is an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import libsbml
import numpy as np

from rekindle import __version__
from rekindle.errors import ModelError, UsageError
from rekindle.io.atomic import atomic_write_text
from rekindle.io.dataset import ParameterDataset
from rekindle.io.skimpy_hdf5 import align_to_model
from rekindle.kinetics.model import KineticModel, Reaction
from rekindle.kinetics.physiology import Physiology

ANNOTATION_NAMESPACE = "urn:rekindle:sbml:1"
"""XML namespace of rekindle's annotations (mechanism names, parameter-set labels)."""

SBML_LEVEL, SBML_VERSION = 3, 2

# Systems Biology Ontology terms.
_SBO_SIMPLE_CHEMICAL = 247
_SBO_COMPARTMENT = 290
_SBO_BIOCHEMICAL_REACTION = 176
_SBO_RATE_LAW = 1
_SBO_PARAMETER = {
    "vmax_forward_": 186,  # maximal velocity
    "k_equilibrium_": 281,  # equilibrium constant
    "km_": 27,  # Michaelis constant
    "hill_coefficient_": 190,  # Hill coefficient
}
_PARAMETER_UNITS = {
    "vmax_forward_": "micromolar_per_hour",
    "km_": "micromolar",
    "hill_coefficient_": "dimensionless",
    "cell_volume_": "litre",
}

_NOT_SID = re.compile(r"[^A-Za-z0-9_]")


def sbml_id(name: str) -> str:
    """``name`` as an SBML identifier (``SId``): ``[A-Za-z_][A-Za-z0-9_]*``."""
    sid = _NOT_SID.sub("_", name)
    return sid if sid and not sid[0].isdigit() else f"_{sid}"


def _fmt(x: float) -> str:
    """A number for a formula, round-trip exact."""
    return repr(float(x))


# --------------------------------------------------------------------------- rate laws
@dataclass(frozen=True)
class _Symbols:
    """SBML ids of one reaction's quantities (concentrations and parameters)."""

    s: list[str]  # substrate species
    p: list[str]  # product species
    ks: list[str]  # substrate K_M
    kp: list[str]  # product K_M
    ns: list[float]  # substrate coefficients
    np_: list[float]  # product coefficients
    vmax: str
    keq: str | None
    hill: str | None


def _product(terms: Sequence[str]) -> str:
    """``(t1) * (t2) * …`` in parentheses, so that it can be a divisor."""
    return "(" + " * ".join(f"({t})" for t in terms) + ")" if terms else "1"


def _rate_terms(mechanism: str, y: _Symbols) -> tuple[str, str | None, str]:
    """``(F, B, D)`` with ``v_fwd = F/D`` and ``v_bwd = B/(K_eq D)`` for ``V = 1``.

    The rate laws of :mod:`rekindle.kinetics.mechanisms`, each written over its one
    denominator ``D``; ``B`` is ``None`` for an irreversible mechanism.
    """
    a = [f"{s} / {k}" for s, k in zip(y.s, y.ks, strict=True)]
    b = [f"{p} / {k}" for p, k in zip(y.p, y.kp, strict=True)]
    if mechanism == "IrrevMichaelisMenten":
        return _product([f"{s} / ({s} + {k})" for s, k in zip(y.s, y.ks, strict=True)]), None, "1"
    if mechanism == "ReversibleMichaelisMenten":
        return a[0], f"{y.p[0]} / {y.ks[0]}", f"1 + {a[0]} + {b[0]}"
    if mechanism == "H1GeneralizedReversibleHill":
        d = _product([" + ".join(["1", *ab]) for ab in _pairs(a, b)])
        return _product(a), f"{_product(y.p)} / {_product(y.ks)}", d
    if mechanism == "Convenience":
        fwd = _product([f"pow({t}, {_fmt(n)})" for t, n in zip(a, y.ns, strict=True)])
        num = _product([f"pow({p}, {_fmt(n)})" for p, n in zip(y.p, y.np_, strict=True)])
        den = _product([f"pow({k}, {_fmt(n)})" for k, n in zip(y.ks, y.ns, strict=True)])
        return fwd, f"{num} / {den}", f"{_saturation(a, y.ns)} + {_saturation(b, y.np_)} - 1"
    if mechanism == "UniBiReversibleHill":  # one substrate x, products y1, y2
        x, _, he, d = _hill_terms(a[0], b[0], b[1], y.hill)
        return f"{x} * {he}", f"{y.p[0]} * {y.p[1]} * {he} / {y.ks[0]}", d
    if mechanism == "BiUniReversibleHill":  # the mirror image: one product
        _, x12, he, d = _hill_terms(b[0], a[0], a[1], y.hill)
        return f"{x12} * {he}", f"{y.p[0]} * {he} / ({y.ks[0]} * {y.ks[1]})", d
    raise ModelError(f"no SBML rate law for mechanism {mechanism!r}")


def _pairs(a: list[str], b: list[str]) -> list[list[str]]:
    """Substrate *k* with product *k* (missing partners omitted), as in the engine."""
    return [[*a[k : k + 1], *b[k : k + 1]] for k in range(max(len(a), len(b)))]


def _saturation(terms: list[str], coefficients: list[float]) -> str:
    """``Π_i Σ_{a=0..n_i} t_i^a`` (Convenience kinetics)."""
    factors = []
    for t, n in zip(terms, coefficients, strict=True):
        powers = ["1", f"{t}"] + [f"pow({t}, {a})" for a in range(2, round(n) + 1)]
        factors.append(" + ".join(powers))
    return _product(factors)


def _hill_terms(lone: str, pair1: str, pair2: str, hill: str | None) -> tuple[str, ...]:
    """Uni-bi / bi-uni Hill terms: ``(u, w, he, D)`` with ``u`` the saturation of the
    lone reactant, ``w = w1 w2`` that of the pair, ``he = (u + w)^(h−1)`` and
    ``D = 1 + (u + w1)^h + (u + w2)^h + (u + w)^h − 2 u^h``."""
    u, w1, w2 = f"({lone})", f"({pair1})", f"({pair2})"
    w = f"({w1} * {w2})"
    he = f"pow({u} + {w}, {hill} - 1)"
    powered = " + ".join(f"pow({t}, {hill})" for t in (f"{u} + {w1}", f"{u} + {w2}", f"{u} + {w}"))
    return u, w, he, f"1 + {powered} - 2 * pow({u}, {hill})"


def rate_formula(reaction: Reaction, ids: Mapping[str, str]) -> str:
    """Net rate ``v`` of a reaction (µM h⁻¹) as an SBML L3 formula.

    Parameters
    ----------
    reaction
        The reaction.
    ids
        SBML id of every metabolite and parameter name of the model.
    """
    r = reaction
    labels = {label: ids[f"km_{label}_{r.id}"] for label, _ in r.km_labels()}
    spec = r.mechanism_spec
    symbols = _Symbols(
        s=[ids[m] for m, _ in r.substrates],
        p=[ids[m] for m, _ in r.products],
        ks=[v for k, v in labels.items() if k.startswith("substrate")],
        kp=[v for k, v in labels.items() if k.startswith("product")],
        ns=[float(n) for _, n in r.substrates],
        np_=[float(n) for _, n in r.products],
        vmax=ids[f"vmax_forward_{r.id}"],
        keq=ids[f"k_equilibrium_{r.id}"] if spec.reversible else None,
        hill=ids[f"hill_coefficient_{r.id}"] if spec.has_hill else None,
    )
    fwd, bwd, d = _rate_terms(r.mechanism, symbols)
    fwd_mods, bwd_mods = [], []
    for mod in r.modifiers:  # as the engine: see mechanisms.MODIFIER_KINDS
        n = mod.stoichiometry
        if mod.kind == "first_order" and n < 0:
            fwd_mods.append(f"pow({ids[mod.metabolite]}, {_fmt(-n)})")
        elif spec.reversible and n != 0:
            bwd_mods.append(f"pow({ids[mod.metabolite]}, {_fmt(n)})")
    net = " * ".join([f"({fwd})", *fwd_mods])
    if bwd is not None:
        net += " - " + " * ".join([f"({bwd})", *bwd_mods]) + f" / {symbols.keq}"
    return f"{symbols.vmax} * ({net}) / ({d})"


# --------------------------------------------------------------------------- document
def _check(status: int, what: str) -> None:
    if status != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise RuntimeError(
            f"libSBML refused {what}: {libsbml.OperationReturnValue_toString(status)}"
        )


def _unit_definitions(model: libsbml.Model) -> None:
    """µmol, hour, µM, µM h⁻¹ and h⁻¹ (SBML base units with scale and multiplier)."""
    kinds = {
        "micromole": [(libsbml.UNIT_KIND_MOLE, 1, -6, 1.0)],
        "hour": [(libsbml.UNIT_KIND_SECOND, 1, 0, 3600.0)],
        "micromolar": [(libsbml.UNIT_KIND_MOLE, 1, -6, 1.0), (libsbml.UNIT_KIND_LITRE, -1, 0, 1.0)],
        "micromolar_per_hour": [
            (libsbml.UNIT_KIND_MOLE, 1, -6, 1.0),
            (libsbml.UNIT_KIND_LITRE, -1, 0, 1.0),
            (libsbml.UNIT_KIND_SECOND, -1, 0, 3600.0),
        ],
        "per_hour": [(libsbml.UNIT_KIND_SECOND, -1, 0, 3600.0)],
    }
    for uid, units in kinds.items():
        ud = model.createUnitDefinition()
        ud.setId(uid)
        for kind, exponent, scale, multiplier in units:
            u = ud.createUnit()
            u.setKind(kind)
            u.setExponent(exponent)
            u.setScale(scale)
            u.setMultiplier(multiplier)
    model.setSubstanceUnits("micromole")
    model.setExtentUnits("micromole")
    model.setTimeUnits("hour")
    model.setVolumeUnits("litre")


def _identifiers(model: KineticModel) -> dict[str, str]:
    """SBML id of every compartment (``compartment:<id>``), metabolite, reaction
    (``reaction:<id>``) and parameter; a clash after rewriting is a :class:`ModelError`."""
    names = [f"compartment:{c.id}" for c in model.compartments]
    names += model.metabolite_ids + [f"reaction:{r}" for r in model.reaction_ids]
    names += [p for p in model.parameter_names if p not in set(model.boundary_ids)]
    ids: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name in names:
        sid = sbml_id(name.split(":", 1)[-1])
        if sid in owner:
            raise ModelError(
                f"model {model.name!r}: {name!r} and {owner[sid]!r} both become the SBML id {sid!r}"
            )
        owner[sid] = name
        ids[name] = sid
    return ids


def _notes(element: libsbml.SBase, lines: Sequence[str]) -> None:
    body = "".join(f"<p>{escape(line)}</p>" for line in lines)
    _check(element.setNotes(f'<body xmlns="http://www.w3.org/1999/xhtml">{body}</body>'), "notes")


def _annotation(
    element: libsbml.SBase, tag: str, attrs: Mapping[str, Any], inner: str = ""
) -> None:
    attr = " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items())
    xml = f'<rekindle:{tag} xmlns:rekindle="{ANNOTATION_NAMESPACE}" {attr}>{inner}</rekindle:{tag}>'
    _check(element.setAnnotation(f"<annotation>{xml}</annotation>"), f"the annotation {tag}")


@dataclass(frozen=True)
class SetLabel:
    """What rekindle knows about one parameter set, recorded in its SBML file.

    Attributes
    ----------
    index
        Row of the set in its dataset (file ``parameter_set_<index>.xml``).
    max_real_eigenvalue
        Max Re(λ) of the reduced Jacobian at the reference state, h⁻¹ (NaN: unknown).
    relevant
        Whether max Re(λ) is below the threshold; ``None``: unknown.
    """

    index: int
    max_real_eigenvalue: float = float("nan")
    relevant: bool | None = None


def _add_species(
    sbml: libsbml.Model, model: KineticModel, ids: Mapping[str, str], concentrations: np.ndarray
) -> None:
    for met, x in zip(model.metabolites, concentrations, strict=True):
        sp = sbml.createSpecies()
        sp.setId(ids[met.id])
        sp.setName(met.id)
        sp.setCompartment(ids[f"compartment:{met.compartment}"])
        _check(sp.setInitialConcentration(float(x)), f"the concentration of {met.id}")
        sp.setSubstanceUnits("micromole")
        sp.setHasOnlySubstanceUnits(False)
        sp.setBoundaryCondition(met.boundary)
        sp.setConstant(met.boundary)
        sp.setSBOTerm(_SBO_SIMPLE_CHEMICAL)


def _add_parameters(
    sbml: libsbml.Model, model: KineticModel, ids: Mapping[str, str], values: np.ndarray
) -> None:
    boundary = set(model.boundary_ids)
    compartment_sizes = {f"volume_{c.id}" for c in model.compartments}
    for name, value in zip(model.parameter_names, values, strict=True):
        if name in boundary or name in compartment_sizes:
            continue  # boundary species / compartment sizes
        par = sbml.createParameter()
        par.setId(ids[name])
        _check(par.setValue(float(value)), f"the value of {name}")
        par.setConstant(True)
        for prefix, sbo in _SBO_PARAMETER.items():
            if name.startswith(prefix):
                par.setSBOTerm(sbo)
        for prefix, unit in _PARAMETER_UNITS.items():
            if name.startswith(prefix):
                par.setUnits(unit)


def _add_reaction(
    sbml: libsbml.Model,
    model: KineticModel,
    reaction: Reaction,
    ids: Mapping[str, str],
    sizes: Mapping[str, float],
) -> None:
    """One reaction: species references, kinetic law ``size · v``, notes, annotation."""
    r = reaction
    compartment = {m.id: m.compartment for m in model.metabolites}
    reference = compartment[r.substrates[0][0]]
    rxn = sbml.createReaction()
    rxn.setId(ids[f"reaction:{r.id}"])
    rxn.setName(r.id)
    rxn.setReversible(r.reversible)
    rxn.setSBOTerm(_SBO_BIOCHEMICAL_REACTION)
    stoichiometry = r.stoichiometry()
    for met, n in stoichiometry.items():
        ref = rxn.createReactant() if n < 0 else rxn.createProduct()
        ref.setSpecies(ids[met])
        ref.setStoichiometry(abs(n) * sizes[compartment[met]] / sizes[reference])
        ref.setConstant(True)
    formula = f"{ids[f'compartment:{reference}']} * ({rate_formula(r, ids)})"
    used = set(re.findall(r"[A-Za-z_]\w*", formula))
    for met in dict.fromkeys(
        [m for m, _ in r.substrates + r.products] + [mod.metabolite for mod in r.modifiers]
    ):
        if met not in stoichiometry and ids[met] in used:
            rxn.createModifier().setSpecies(ids[met])
    settings = libsbml.L3ParserSettings()
    settings.setModel(sbml)  # model ids first: a compartment ``e`` is not Euler's number
    math = libsbml.parseL3FormulaWithSettings(formula, settings)
    if math is None:
        raise RuntimeError(
            f"{r.id}: libSBML cannot parse {formula!r}: {libsbml.getLastParseL3Error()}"
        )
    law = rxn.createKineticLaw()
    _check(law.setMath(math), f"the rate law of {r.id}")
    law.setSBOTerm(_SBO_RATE_LAW)
    modifiers = [f"{m.kind} modifier {m.metabolite} ({m.stoichiometry:g})" for m in r.modifiers]
    _notes(rxn, [f"mechanism: {r.mechanism}", *modifiers])
    inner = "".join(
        f"<rekindle:modifier metabolite={quoteattr(m.metabolite)} kind={quoteattr(m.kind)} "
        f'stoichiometry="{m.stoichiometry!r}"/>'
        for m in r.modifiers
    )
    _annotation(rxn, "kinetics", {"mechanism": r.mechanism}, inner)


def sbml_document(
    model: KineticModel,
    physiology: Physiology,
    parameters: np.ndarray,
    label: SetLabel | None = None,
    *,
    source: str = "",
) -> libsbml.SBMLDocument:
    """The SBML document of one parameter set.

    Parameters
    ----------
    model
        The kinetic model.
    physiology
        Reference steady state: the initial concentrations of the non-boundary species.
    parameters
        One parameter set in the model's canonical order, shape ``(n_parameters,)``.
    label
        Index and label of the set, recorded in the model annotation and notes.
    source
        Where the set comes from (e.g. the dataset file), recorded likewise.

    Returns
    -------
    libsbml.SBMLDocument
        SBML Level 3 Version 2, not yet validated (see :func:`validate`).
    """
    p = np.asarray(parameters, dtype=float)
    if p.shape != (model.n_parameters,):
        raise UsageError(
            f"a parameter set of model {model.name!r} has {model.n_parameters} values, "
            f"got shape {p.shape}"
        )
    label = label or SetLabel(0)
    ids = _identifiers(model)
    pidx = model.parameter_index
    doc = libsbml.SBMLDocument(SBML_LEVEL, SBML_VERSION)
    sbml = doc.createModel()
    sbml.setId(sbml_id(f"{model.name}_parameter_set_{label.index}"))
    sbml.setName(f"{model.name} ({physiology.name}), parameter set {label.index}")
    _unit_definitions(sbml)
    sizes = {c.id: float(p[pidx[f"volume_{c.id}"]]) for c in model.compartments}
    for c in model.compartments:
        comp = sbml.createCompartment()
        comp.setId(ids[f"compartment:{c.id}"])
        comp.setName(c.id)
        _check(comp.setSize(sizes[c.id]), f"the volume of {c.id}")
        comp.setSpatialDimensions(3)
        comp.setUnits("litre")
        comp.setConstant(True)
        comp.setSBOTerm(_SBO_COMPARTMENT)
    x = np.array(
        [
            p[pidx[m.id]] if m.boundary else physiology.concentration_vector([m.id])[0]
            for m in model.metabolites
        ]
    )
    _add_species(sbml, model, ids, x)
    _add_parameters(sbml, model, ids, p)
    for r in model.reactions:
        _add_reaction(sbml, model, r, ids, sizes)
    info = {
        "model": model.name,
        "physiology": physiology.name,
        "parameter_set": label.index,
        "max_real_eigenvalue_per_hour": label.max_real_eigenvalue,
        "relevant": "unknown" if label.relevant is None else str(bool(label.relevant)).lower(),
        "source": source,
        "rekindle_version": __version__,
    }
    _notes(
        sbml,
        [
            f"Kinetic model {model.name!r} at parameter set {label.index} of "
            f"{source or 'rekindle'}, written by rekindle {__version__}.",
            f"Reference steady state (initial concentrations): {physiology.name}. "
            "Concentrations in µM, time in hours, rates in µM/h.",
            f"Max Re(λ) of the reduced Jacobian at the reference state: "
            f"{label.max_real_eigenvalue:.10g} 1/h (relevant: {info['relevant']}).",
        ],
    )
    _annotation(sbml, "parameterSet", info)
    return doc


def validate(doc: libsbml.SBMLDocument, what: str = "SBML document") -> None:
    """Run libSBML's consistency checks; raise ``RuntimeError`` listing any error.

    Warnings (e.g. parameters whose units cannot be declared, such as K_eq in
    µM^Δn) are accepted.
    """
    doc.checkConsistency()
    errors = [
        doc.getError(i)
        for i in range(doc.getNumErrors())
        if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]
    if errors:
        lines = "; ".join(f"{e.getErrorId()}: {e.getMessage().strip()}" for e in errors[:5])
        raise RuntimeError(f"{what} fails libSBML's consistency checks ({len(errors)}): {lines}")


def sbml_file_name(index: int) -> str:
    """``parameter_set_<index>.xml``."""
    return f"parameter_set_{int(index)}.xml"


def write_sbml_models(
    folder: str | Path,
    model: KineticModel,
    physiology: Physiology,
    parameters: np.ndarray,
    labels: Sequence[SetLabel] | None = None,
    *,
    source: str = "",
) -> list[Path]:
    """Write one validated SBML file per parameter set, each atomically.

    The first document passes all of libSBML's consistency checks (units and
    modelling practice give warnings only, see :func:`validate`); the others, which
    differ from it only in numbers, pass the structural and mathematical ones.

    Parameters
    ----------
    folder
        Output folder (created); files ``parameter_set_<index>.xml``.
    model, physiology
        The kinetic model and its reference steady state.
    parameters
        Shape ``(n_sets, n_parameters)``, model's canonical order; finite.
    labels
        One per set (index, max Re(λ), relevance); default: indices ``0 … n_sets − 1``.
    source
        Recorded in each file (e.g. the dataset path).

    Returns
    -------
    list of Path
        The files written.
    """
    p = np.asarray(parameters, dtype=float)
    if p.ndim != 2 or p.shape[1] != model.n_parameters:
        raise UsageError(
            f"parameters must have shape (n_sets, {model.n_parameters}) for model "
            f"{model.name!r}, got {p.shape}"
        )
    labels = list(labels) if labels is not None else [SetLabel(i) for i in range(p.shape[0])]
    if len(labels) != p.shape[0]:
        raise UsageError(f"{len(labels)} labels for {p.shape[0]} parameter sets")
    bad = ~np.isfinite(p)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise UsageError(
            f"parameter set {labels[i].index} has a non-finite {model.parameter_names[j]}"
        )
    folder = Path(folder)
    written = []
    for k, (row, label) in enumerate(zip(p, labels, strict=True)):
        doc = sbml_document(model, physiology, row, label, source=source)
        if k:
            doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, False)
            doc.setConsistencyChecks(libsbml.LIBSBML_CAT_MODELING_PRACTICE, False)
        validate(doc, f"parameter set {label.index}")
        path = folder / sbml_file_name(label.index)
        written.append(atomic_write_text(path, libsbml.writeSBMLToString(doc)))
    _replace_manifest(folder, written)
    return written


_SBML_NAME = re.compile(r"^parameter_set_\d+\.xml$")

SBML_MANIFEST = "sbml_manifest.json"
"""Written beside an SBML export: the files it wrote. The next export into the folder
removes those of them it does not write again (and nothing else), so no stale set of an
older, larger export is left among the new ones."""


def _replace_manifest(folder: Path, written: Sequence[Path]) -> None:
    """Remove the files of the previous export that this one did not write; record these."""
    import json

    from rekindle.io.atomic import write_json

    manifest = folder / SBML_MANIFEST
    names = {p.name for p in written}
    previous: list[str] = []
    if manifest.is_file():
        try:
            previous = list(json.loads(manifest.read_text()).get("files", []))
        except (ValueError, AttributeError, TypeError):
            previous = []  # a damaged manifest: remove nothing
    for name in previous:
        # only plain names of this layout: a manifest cannot point outside the folder
        if isinstance(name, str) and _SBML_NAME.match(name) and name not in names:
            (folder / name).unlink(missing_ok=True)
    write_json(manifest, {"files": sorted(names)})


def export_dataset_sbml(
    dataset: ParameterDataset,
    folder: str | Path,
    model: KineticModel,
    physiology: Physiology,
    *,
    first: int | None = None,
    only_relevant: bool = False,
    source: str = "",
) -> list[Path]:
    """Write the parameter sets of a dataset as SBML files (:func:`write_sbml_models`).

    Parameters
    ----------
    dataset
        Labelled parameter sets of ``model``; set *i* (its row) becomes
        ``parameter_set_<i>.xml`` with its max Re(λ) and label in the annotation.
    folder
        Output folder.
    model, physiology
        The dataset's model and reference steady state.
    first
        Export only the first ``first`` sets (after ``only_relevant``); ``None``: all.
    only_relevant
        Export only the sets labelled relevant.
    source
        Recorded in each file (e.g. the dataset path).
    """
    if first is not None and first < 1:
        raise UsageError(f"--first must be at least 1, got {first}")
    rows = np.flatnonzero(dataset.relevant) if only_relevant else np.arange(dataset.n_models)
    rows = rows[:first]
    if rows.size == 0:
        raise UsageError(f"{source or 'the dataset'} has no parameter set to export")
    values = align_to_model(
        dataset.parameters[rows], dataset.parameter_names, model, source=source or "dataset"
    )
    labels = []
    for i in rows:
        lam = float(dataset.max_real_eigenvalue[i])
        relevant = bool(dataset.relevant[i]) if np.isfinite(lam) else None
        labels.append(SetLabel(int(i), lam, relevant))
    return write_sbml_models(folder, model, physiology, values, labels, source=source)
