"""Per-student variants: every student their own numbers, chosen by a pure function.

A *variant question* declares parameters (``question(qid, lambda p: ..., params={...})``).  When the key
is built, the parameters give a *pool* of variants, each a dict of values; the reference, the named
mistakes, the question tests and the statement text are built from each variant's values.  The pool
is split, by a seeded shuffle, into the *graded* pool (from which students get their variant) and a
smaller *practice* pool (for ``practice(qid)``, never handed to a graded student).

The variant a student gets is ``variant_index(course, assignment, qid, student, seed, len(graded))``:
a SHA-256 of those five values modulo the pool size.  Changing the question's ``seed`` or its pool
changes every student's numbers, deliberately; nothing else does.

Key entries of a variant question (both keys have this shape)::

    {"qid", "kind", "points", "notebook", "hints", ["inputs" of a function question],
     "variants": {"seed": int, "graded": [V, ...], "practice": [V, ...]}}
    V = {"params": {name: wire value}, "statement": markdown text, "entry": concrete entry}

In the private key the concrete entry holds the variant's reference (grading as for any question); in
the public key it is the public entry built from it: salted fingerprints only (the salt differs per
variant), never a reference nor the generator (the generator lives in the solution notebook only).
``resolve`` turns a variant entry into the concrete entry of one student, ``key_for_student`` does so
for a whole key: the trusted grader calls it with the gradebook's student id.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from typing import Any, Callable, Iterable, Mapping, Sequence


__all__ = [
    "Params", "VariantError", "pool_of", "render_statement", "variant_index", "is_variant", "resolve",
    "student_variant", "key_for_student", "params_for_student", "make_variant_record", "variants_of",
    "variant_label", "read_params", "public_variant_entry", "MAX_POOL",
]

MAX_POOL = 200            # variants built per question (graded + practice)
PRACTICE_SHARE = 0.2      # of a pool kept for practice (at least 1, at most 20)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
_COMMON = ("qid", "kind", "points", "notebook", "hints", "partial", "inputs")


class VariantError(ValueError):
    """A variant question's declaration cannot give a pool (the message says which and why)."""


class Params(dict):
    """One variant's values: ``p["n"]`` or ``p.n``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"this question has no parameter {name!r} (it has {', '.join(self) or 'none'})") from None


# --- the pool ---------------------------------------------------------------------------------------
def _candidates(spec: Any, seed: int, count: int | None) -> list[dict[str, Any]]:
    if isinstance(spec, Mapping):
        names = list(spec)
        choices = [list(spec[n]) if not isinstance(spec[n], (str, bytes)) else [spec[n]] for n in names]
        if any(not c for c in choices):
            raise VariantError("every parameter needs at least one value")
        combos = itertools.islice(itertools.product(*choices), MAX_POOL * 50)
        return [dict(zip(names, combo)) for combo in combos]
    if callable(spec):
        rng = random.Random(seed)
        out, seen = [], set()
        wanted = count or 30
        for _ in range(wanted * 20):
            made = spec(rng)
            if not isinstance(made, Mapping):
                raise VariantError("a parameter generator must return a dict of values")
            label = repr(sorted((k, repr(v)) for k, v in made.items()))
            if label not in seen:
                seen.add(label)
                out.append(dict(made))
            if len(out) >= wanted:
                break
        return out
    if isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
        if not all(isinstance(v, Mapping) for v in spec):
            raise VariantError("a list of variants must hold dicts of values")
        return [dict(v) for v in spec]
    raise VariantError("params must be a dict of value lists, a list of dicts, or a generator rng -> dict")


def pool_of(spec: Any, *, seed: int = 0, count: int | None = None,
            where: Callable[[Params], bool] | None = None) -> tuple[list[Params], list[Params]]:
    """(graded pool, practice pool) of a parameter declaration, the same on every machine.

    ``spec``: a dict ``{name: values}`` (every combination), a list of dicts (the pool itself) or a
    generator ``rng -> dict`` called on a ``random.Random(seed)`` (``count`` distinct variants).
    ``where``: keep only the variants it accepts.  A seeded shuffle then sets aside a fifth of the
    pool (at least one variant, at most 20) for practice; a pool needs at least 2 variants.
    """
    found = [Params(c) for c in _candidates(spec, seed, count)]
    if where is not None:
        found = [p for p in found if where(p)]
    if count is not None and len(found) > count:
        random.Random(seed ^ 0x5EED).shuffle(found)
        found = found[:count]
    if len(found) > MAX_POOL:
        random.Random(seed ^ 0x5EED).shuffle(found)
        found = found[:MAX_POOL]
    if len(found) < 2:
        raise VariantError(f"the parameters give {len(found)} variant(s); a variant question needs at least 2")
    order = list(range(len(found)))
    random.Random(seed).shuffle(order)
    practice_n = min(20, max(1, round(len(found) * PRACTICE_SHARE)))
    practice = sorted(order[:practice_n])
    graded = sorted(order[practice_n:])
    return [found[i] for i in graded], [found[i] for i in practice]


def render_statement(template: str, params: Mapping[str, Any]) -> str:
    """``template`` with each ``{{name}}`` replaced by the value's LaTeX (write placeholders inside $...$).

    Single braces are left alone, so LaTeX such as ``\\sum_{i=1}^{{{n}}}`` reads naturally."""
    import sympy as sp

    def value_text(match: "re.Match[str]") -> str:
        name = match.group(1)
        if name not in params:
            raise VariantError(f"the statement names {{{{{name}}}}}, which is not a parameter")
        value = params[name]
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, (int, str)):
            return str(value)
        try:
            return sp.latex(sp.sympify(value) if not isinstance(value, sp.Basic) else value)
        except Exception:
            return str(value)

    return _PLACEHOLDER.sub(value_text, template or "")


def variant_label(params: Mapping[str, Any]) -> str:
    """``a = 2, b = 5``: how a variant is named in messages."""
    return ", ".join(f"{k} = {v}" for k, v in params.items())


# --- which variant a student gets -------------------------------------------------------------------
def variant_index(course: str, assignment: str, qid: str, student: str, seed: int, size: int) -> int:
    """The graded variant of ``student``: a pure function of the five values and the pool size."""
    text = "\0".join(["calcgrade-variant/1", str(course), str(assignment), str(qid), str(student), str(int(seed))])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % max(1, int(size))


def is_variant(entry: Any) -> bool:
    return isinstance(entry, Mapping) and isinstance(entry.get("variants"), Mapping)


def variants_of(entry: Mapping[str, Any], *, practice: bool = False) -> list[Mapping[str, Any]]:
    """The variant records (params, statement, entry) of a variant entry's graded or practice pool."""
    pool = (entry.get("variants") or {}).get("practice" if practice else "graded") or []
    return [v for v in pool if isinstance(v, Mapping)]


def resolve(entry: Mapping[str, Any], index: int, *, practice: bool = False) -> dict[str, Any]:
    """The concrete entry of variant ``index`` (graded or practice pool), with the question's common fields
    (points, hints, ...) and ``"variant": {"index", "params", "statement", "practice"}``."""
    pool = variants_of(entry, practice=practice)
    chosen = pool[index % len(pool)]
    concrete = dict(chosen.get("entry") or {})
    for k in _COMMON:
        if k in entry:
            concrete[k] = entry[k]
    concrete["variant"] = {"index": index % len(pool), "params": chosen.get("params") or {},
                           "statement": chosen.get("statement") or "", "practice": practice}
    return concrete


def student_variant(key: Mapping[str, Any], qid: str, student: str) -> dict[str, Any] | None:
    """The concrete entry of ``student`` for question ``qid`` of ``key`` (the entry itself when the
    question has no variants, None when the key has no such question)."""
    entry = (key.get("questions") or {}).get(qid)
    if not isinstance(entry, Mapping):
        return None
    if not is_variant(entry):
        return dict(entry)
    size = len(variants_of(entry))
    if size == 0:
        return None
    index = variant_index(str(key.get("course", "")), str(key.get("assignment", "")), qid, student,
                          int(entry["variants"].get("seed", 0)), size)
    return resolve(entry, index)


def key_for_student(key: Mapping[str, Any], student: str) -> dict[str, Any]:
    """``key`` with every variant question resolved to ``student``'s variant: the key that grades that
    student.  The trusted grader passes the gradebook's student id (the submission's folder), never
    anything read from the notebook."""
    out = dict(key)
    out["questions"] = {qid: (student_variant(key, qid, student) if is_variant(entry) else entry)
                        for qid, entry in (key.get("questions") or {}).items()}
    out["student"] = student
    return out


def params_for_student(key: Mapping[str, Any], student: str) -> dict[str, dict[str, Any]]:
    """qid -> the wire params of ``student``'s variant, for every variant question of ``key`` (what the
    sandboxed run of the student's notebook hands to ``variant(qid)``)."""
    out: dict[str, dict[str, Any]] = {}
    for qid, entry in (key.get("questions") or {}).items():
        if is_variant(entry):
            concrete = student_variant(key, qid, student) or {}
            v = concrete.get("variant") or {}
            out[str(qid)] = {"params": v.get("params") or {}, "statement": v.get("statement") or ""}
    return out


def read_params(wire: Mapping[str, Any]) -> Params:
    """Wire params -> a ``Params`` of Python/SymPy values."""
    from grader.key.wire import from_wire  # SymPy: not imported where only the key's data is read

    return Params({k: from_wire(v) for k, v in (wire or {}).items()})



# --- building (the key builder's side) ----------------------------------------------------------------
def _of(p: Params, value: Any) -> Any:
    return value(p) if callable(value) and not _is_sympy(value) else value


def _is_sympy(value: Any) -> bool:
    try:
        import sympy as sp
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, sp.Basic)


def make_variant_record(
    qid: str, reference: Callable[[Params], Any], *, params: Any, seed: int, count: int | None,
    where: Callable[[Params], bool] | None, statement: str | None,
    mistakes: Mapping[str, tuple[Any, str]] | None, tests: Iterable[tuple[Any, Any]] | None,
    hints: Sequence[str] | None, inputs: Sequence[Any] | None,
    make_record: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    """The private entry of a variant question: one concrete record per variant of both pools.

    ``reference``, each mistake's answer and each test answer may be callables of the params (a function
    question's ``inputs`` are the same for every variant); ``statement`` and each mistake message are templates with ``{{name}}`` placeholders.
    ``make_record(reference, mistakes=..., tests=..., inputs=...)`` builds one concrete private entry
    (``grader.key.entries.make_question_record`` with the question's other options bound).
    """
    if not callable(reference) or _is_sympy(reference):
        raise VariantError(f"question {qid!r}: with params=..., the reference must be a function of the params "
                           "(lambda p: ...)")
    from grader.key.wire import to_wire

    graded, practice = pool_of(params, seed=seed, count=count, where=where)
    common: dict[str, Any] | None = None

    def build(p: Params) -> dict[str, Any]:
        nonlocal common
        try:
            rec = make_record(
                _of(p, reference),
                mistakes={mid: (_of(p, pair[0]), render_statement(str(pair[1]), p))
                          for mid, pair in (mistakes or {}).items()},
                tests=[(_of(p, a), expect) for a, expect in (tests or [])] or None,
                inputs=inputs,
            )
        except VariantError:
            raise
        except Exception as exc:
            raise VariantError(f"question {qid!r}, variant {variant_label(p)}: {exc}") from exc
        if common is None:
            common = {k: rec[k] for k in ("qid", "kind") if k in rec}
            if "inputs" in rec:
                common["inputs"] = rec["inputs"]
        return {"params": {k: to_wire(v) for k, v in p.items()},
                "statement": render_statement(statement or "", p), "entry": rec}

    built_graded = [build(p) for p in graded]
    built_practice = [build(p) for p in practice]
    top: dict[str, Any] = dict(common or {"qid": qid})
    if hints:
        top["hints"] = [str(h) for h in hints]
    top["variants"] = {"seed": int(seed), "graded": built_graded, "practice": built_practice}
    return top


def public_variant_entry(entry: Mapping[str, Any], assignment: str,
                         build: Callable[[Mapping[str, Any], str], dict[str, Any]]) -> dict[str, Any]:
    """The public entry of a variant question: per variant its params, statement and the public entry
    ``build`` makes of its concrete private entry, salted per variant (graded ``g<i>``, practice ``p<i>``)."""
    top = {k: entry[k] for k in _COMMON if k in entry}
    out: dict[str, Any] = {"seed": int(entry["variants"].get("seed", 0))}
    for pool, tag in (("graded", "g"), ("practice", "p")):
        built = []
        for i, v in enumerate(entry["variants"].get(pool) or []):
            concrete = dict(v["entry"], qid=f"{entry['qid']}@{tag}{i}")
            pub = build(concrete, assignment)
            pub["qid"] = entry["qid"]
            built.append({"params": v.get("params") or {}, "statement": v.get("statement") or "", "entry": pub})
        out[pool] = built
    top["variants"] = out
    return top

