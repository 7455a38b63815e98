"""Building a public key entry from a private one: fingerprints of the reference and of each named
mistake at seeded sample points, never the values themselves; and the reference's values at a few
other points for feedback (``grader.key.feedbackpoints``)."""

from __future__ import annotations

from typing import Any, Mapping


from grader.key import fingerprint as fpm
from grader.key.feedbackpoints import build_feedback
from grader.key.wire import from_wire
from grader.key.publicvalues import (
    assumption_dict, derivative_of, output_fp, read_array, read_scalar, reference_frame, value_fp,
)

__all__ = ["build_public_entry"]


# --- building ---------------------------------------------------------------------------------------
def build_public_entry(entry: Mapping[str, Any], assignment: str) -> dict[str, Any]:
    """The public entry of a private one: options, sample points, fingerprints, mistake messages."""

    qid = entry["qid"]
    salt = fpm.make_salt(assignment, qid)
    rtol, atol = float(entry["rtol"]), float(entry["atol"])
    pub: dict[str, Any] = {
        k: entry.get(k) for k in ("qid", "kind", "rtol", "atol", "domain", "plot", "points", "notebook", "hints", "partial",
                                   "layout")
        if k in entry
    }
    pub["salt"] = salt
    kind = entry["kind"]
    if kind == "function":
        pub["inputs"] = entry["inputs"]
        refs = [from_wire(r["ok"]) for r in entry["reference"]["results"]]
        pub["outputs"] = [output_fp(salt, f"o{i}", out, rtol, atol) for i, out in enumerate(refs)]
        pub["mistakes"] = []
        for m in entry.get("mistakes", []):
            fps = []
            for i, r in enumerate(m["answer"].get("results", [])):
                fps.append(output_fp(salt, f"m:{m['id']}:o{i}", from_wire(r["ok"]), rtol, atol)
                           if "ok" in r else {"t": "error"})
            pub["mistakes"].append({"id": m["id"], "message": m["message"], "outputs": fps})
        return pub

    reference, symbols, var_name = reference_frame(entry)
    pub["symbols"] = [[n, assumption_dict(symbols[n])] for n in sorted(symbols)]
    pub["var"] = var_name
    ordered = [symbols[n] for n in sorted(symbols)]
    if kind == "array":
        _, ref_entries = read_array(reference, symbols)
        checked = [e for e in ref_entries if e.free_symbols]
    else:
        ref_expr = read_scalar(reference, symbols, kind)
        checked = [derivative_of(ref_expr, var_name) if kind == "antiderivative" else ref_expr]

    def defined(p: Mapping[str, float]) -> bool:
        return all(fpm.eval_scalar(e, p) is not None for e in checked)

    points = fpm.sample_for(ordered, fpm.N_POINTS, fpm.seed_for(qid), defined if checked else None)
    pub["sample"] = points if symbols else []
    # the reference's values at a few other points: the self-check names the correct value there
    feedback = build_feedback([e if e.free_symbols else None for e in ref_entries] if kind == "array" else checked,
                              ordered, qid, points, kind=kind, domain=entry.get("domain"))
    if feedback is not None:
        pub["feedback"] = feedback
    pub["fp"] = value_fp(salt, "r", reference, kind, symbols, points, var_name, rtol, atol)
    for fp in (pub["fp"].get("elems") or [pub["fp"]]):
        if fp["t"] == "expr" and sum(v is not None for v in fp["v"]) < 3:
            raise ValueError("the reference is real and finite at fewer than 3 sample points, so the public key "
                             "could not check it")
    if kind in ("expression", "antiderivative") and var_name is not None:
        alt_expr = derivative_of(ref_expr, var_name)
        if kind == "antiderivative":  # the derivative of the integrand
            alt_expr = derivative_of(alt_expr, var_name)
        pub["alt"] = fpm.scalar_fingerprint(salt, "alt", alt_expr, points, rtol, atol)
    pub["mistakes"] = []
    for m in entry.get("mistakes", []):
        wrong = from_wire(m["answer"])
        try:
            fp = value_fp(salt, f"m:{m['id']}", wrong, kind, symbols, points, var_name, rtol, atol)
        except Exception:
            fp = None
        pub["mistakes"].append({"id": m["id"], "message": m["message"], "fp": fp})
    return pub


