"""What ``compare`` and its kinds share: options, outcomes, named mistakes, the problem base class.

A *problem* is a prepared reference of one kind (expression, antiderivative, number, array,
function) that grades normalised answers.  The scalar kinds live in ``scalars``, arrays and
functions in modules of their own; all of them build on the types here, so none imports another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

import sympy as sp

from grader.core.answers import (
    InvalidAnswer,
    parse_text,
    to_expression,
)
from grader.core.budget import CPU, Deadline, Timeout
from grader.core.equivalence import (
    HUGE,
    UNDEFINED,
    Evidence,
    precise,
    format_value,
    numeric_compare,
    prove_equal,
)
from grader.core.exactness import exact_difference, exact_witness, witness
from grader.core.verdict import Verdict


CONSTANT_NAMES = ("C", "c", "k", "K", "D", "C0", "C1", "C2", "C3", "c0", "c1", "c2", "k1", "k2", "const")
CONSTANT_NAME = re.compile(r"^([CcKk]_?\d*|const\w*)$")  # further names read as integration constants
PROOF_SHARE = 0.04    # fraction of the timeout that symbolic confirmation may use
PROOF_MIN = 0.02      # ... but at least this many seconds when the budget allows
FLOAT_PROOF = 0.02    # seconds of proof for answers that contain floats
# One work budget per call covers everything beyond sampling: proofs (of every entry of an array),
# the exact check and its witness search, and the diagnosis of a wrong answer. Why: each used to
# take its own slice, and a 3x3 Jacobian or a wrong antiderivative paid them over and over.
WORK_SHARE = 0.03     # fraction of the timeout
WORK_MIN = 0.05       # seconds, when the timeout allows
WITNESS_RESERVE = 0.02  # seconds of the work budget a failed proof leaves to the witness search
WITNESS_MIN = 0.008   # seconds a witness search always gets (an exact answer is not accepted blind)
DIAGNOSIS_MIN = 0.015  # seconds a wrong answer's diagnosis always gets
PRECISION_SHARE = 0.015  # fraction of the timeout for evaluating cancelling points beyond 60 digits
PRECISION_MIN = 0.02
EXACT_MIN = 0.03      # seconds the exact check of a rational difference always gets (decisive)
CORRECT = "Correct."

# ---------------------------------------------------------------------------
# shared machinery

@dataclass
class Options:
    kind: str
    rtol: float
    atol: float
    timeout: float
    deadline: Deadline
    work: Deadline | None = None  # the call's work budget, started at its first use
    precision: Deadline | None = None  # the call's budget for re-evaluating cancelling points
    partial: bool = False   # arrays: a wrong answer earns the fraction of right entries
    layout: str = "convention"  # the shape policy (``grader.core.shapes``)

    def precision_deadline(self) -> Deadline:
        """CPU time this call may spend beyond 60 digits on points whose digits cancel (all entries)."""
        if self.precision is None:
            self.precision = Deadline.cpu(max(PRECISION_MIN, PRECISION_SHARE * self.timeout))
        return self.precision

    def work_deadline(self) -> Deadline:
        """The work budget of this call (proofs, exact checks, diagnosis), shared by all entries.

        Measured in this thread's CPU time (``Deadline.cpu``): what a verdict says must not depend
        on how busy the machine is; the call's wall-clock timeout still bounds it.
        """
        if self.work is None:
            self.work = Deadline.cpu(max(WORK_MIN, WORK_SHARE * self.timeout))
        return self.work

    @staticmethod
    def _until(end: float, at_least: float = 0.0) -> Deadline:
        return Deadline.at(max(end, CPU() + at_least), CPU)

    def diagnosis(self) -> "Options":
        """The same options under what is left of the work budget (at least DIAGNOSIS_MIN seconds):
        explaining a wrong answer (generic diagnoses) never costs more than confirming a right one."""
        return Options(self.kind, self.rtol, self.atol, self.timeout,
                       self._until(self.work_deadline().end, DIAGNOSIS_MIN), self.work, self.precision,
                       self.partial, self.layout)

    def exact_deadline(self) -> Deadline:
        return self._until(self.work_deadline().end, EXACT_MIN)

    def witness_deadline(self) -> Deadline:
        return self._until(self.work_deadline().end, WITNESS_MIN)

    def proof_deadline(self, inexact: bool = False) -> Deadline:
        share = max(PROOF_MIN, PROOF_SHARE * self.timeout)
        if inexact:
            # an answer with floats is rarely *exactly* the reference: do not spend long proving it
            share = min(share, FLOAT_PROOF)
        work = self.work_deadline()
        return Deadline.at(min(work.end - (0.0 if inexact else WITNESS_RESERVE), CPU() + share), CPU)


@dataclass
class Outcome:
    """Equality of two normalised scalars."""

    equal: bool | None  # None: could not be decided
    method: str
    evidence: Evidence | None = None
    exact_values: tuple[Any, Any] | None = None


def is_exact(e: sp.Expr) -> bool:
    return not e.has(sp.Float)


def same_scalar(a: sp.Expr, e: sp.Expr, opts: Options, *, prove: bool = True,
                proof: Deadline | None = None) -> Outcome:
    """Decide a == e for two normalised SymPy expressions.

    ``proof``: the deadline of the symbolic confirmation (default: this call's own share of the
    budget); an array passes one deadline for all its entries so that it pays the proof budget once.
    When both sides are exact and the numbers agree but the proof did not confirm it, the exact
    check of ``exactness`` decides (a slip between the sample points is not an agreement).
    """
    if not a.free_symbols and not e.free_symbols:
        return same_number(a, e, opts)
    if a == e:
        return Outcome(True, "symbolic")
    ev = numeric_compare(a, e, rtol=opts.rtol, atol=opts.atol, deadline=opts.deadline,
                         patience=opts.precision_deadline())
    if ev.status == "different":
        return Outcome(False, "numeric", ev)
    return confirm_scalar(a, e, ev, opts, prove=prove, proof=proof)


def confirm_scalar(a: sp.Expr, e: sp.Expr, ev: Evidence, opts: Options, *, prove: bool = True,
                   proof: Deadline | None = None, search: Deadline | None = None) -> Outcome:
    """The symbolic and exact stage of ``same_scalar``, given numeric evidence that is not "different".

    ``proof`` and ``search``: deadlines of the proof and of the witness search (default: this call's
    own); an array passes the same two to all its entries.
    """
    inexact = a.has(sp.Float) or e.has(sp.Float)
    budget = proof if proof is not None else opts.proof_deadline(inexact)
    exact = None
    if prove and not inexact:
        # a rational difference is decided exactly and cheaply, before any proof (on its own time)
        exact = exact_difference(a, e, opts.exact_deadline(), ev.points)
        if exact is True:
            return Outcome(True, "symbolic", ev)
    if ev.status == "undetermined":
        if exact is False:
            return Outcome(False, "exact", Evidence("different", ev.points, ev.answer_values, ev.expected_values))
        if prove and prove_equal(a, e, budget):
            return Outcome(True, "symbolic", ev)
        return Outcome(None, "numeric", ev)
    if prove and exact is None and prove_equal(a, e, budget):
        return Outcome(True, "symbolic", ev)
    if prove and not inexact:
        return _exact_check(a, e, ev, opts, exact, search)
    return Outcome(True, "numeric", ev)


def same_entries(answers: list[sp.Expr], expected: list[sp.Expr], opts: Options) -> list[Outcome]:
    """``same_scalar`` for every entry of an array, paying the proof budget once for the whole array.

    Every entry is sampled first; only then are the agreeing entries confirmed, one after the other
    under a single proof deadline and a single witness-search deadline, so a 3x3 Jacobian of tanh or
    Piecewise entries costs one budget, not nine.
    """
    outcomes: list[Outcome] = []
    for a, e in zip(answers, expected):
        if not a.free_symbols and not e.free_symbols:
            outcomes.append(same_number(a, e, opts))
        elif a == e:
            outcomes.append(Outcome(True, "symbolic"))
        else:
            ev = numeric_compare(a, e, rtol=opts.rtol, atol=opts.atol, deadline=opts.deadline,
                                 patience=opts.precision_deadline())
            outcomes.append(Outcome(False if ev.status == "different" else None, "numeric", ev))
    # the agreeing entries are confirmed even when another entry is wrong: an entry's verdict counts
    # on its own (the wrong entries named, partial credit)
    proof = opts.proof_deadline()
    search = opts.witness_deadline()  # one witness search budget too (the rest of the work budget)
    return [o if o.evidence is None or o.equal is False
            else confirm_scalar(a, e, o.evidence, opts, proof=proof, search=search)
            for o, a, e in zip(outcomes, answers, expected)]


def _exact_check(a: sp.Expr, e: sp.Expr, ev: Evidence, opts: Options, exact: bool | None,
                 search: Deadline | None = None) -> Outcome:
    """Both sides exact, the numbers agree, the proof did not confirm: look for a witness.

    ``exact``: what ``exact_difference`` said (True: proven equal; False: an exact witness exists;
    None: not a rational function, or no time). A difference beyond the tolerance somewhere
    (``witness``) is the clearest message; failing that, an "exact slip" needs an exact witness
    (``exact_witness``: a rational point where the two are certainly different numbers). Without
    one the answer is accepted on the numbers: a correct answer is never rejected on a hunch.
    """
    if exact is True:
        return Outcome(True, "symbolic", ev)
    base = ev.points[0] if ev.points else None
    deadline = search if search is not None else opts.witness_deadline()
    ce = witness(a, e, opts.rtol, opts.atol, base, deadline)
    if ce is not None:
        return Outcome(False, "numeric", Evidence("different", ev.points, ev.answer_values, ev.expected_values, ce))
    if exact is False or (_visible_gap(ev, opts.atol)
                          and exact_witness(a, e, ev.points, opts._until(deadline.end, WITNESS_MIN)) is not None):
        # exactly different, though within the tolerance wherever we looked
        return Outcome(False, "exact", Evidence("different", ev.points, ev.answer_values, ev.expected_values))
    return Outcome(True, "numeric", ev)


VISIBLE_GAP = 1e-9  # relative: beyond float64 rounding and the noise of cancelling terms, within any declared tolerance


def _visible_gap(ev: Evidence, atol: float) -> bool:
    """Whether the sampled values differ beyond float64 rounding somewhere (a slip such as
    314159/100000 for pi shows as 8e-7 relative at every point). Only then is an exact witness
    looked for in a transcendental answer: a correct one agrees to ~1e-16 and pays nothing."""
    for a, e in zip(ev.answer_values, ev.expected_values):
        try:
            if abs(a - e) > VISIBLE_GAP * (abs(e) + atol):
                return True
        except TypeError:  # UNDEFINED markers of skipped points
            continue
    return False


def same_number(a: sp.Expr, e: sp.Expr, opts: Options) -> Outcome:
    if a == e:
        return Outcome(True, "exact", exact_values=(a, e))
    av, ev = precise(a, {}, 40), precise(e, {}, 40)
    if ev is UNDEFINED or ev is HUGE:
        raise ValueError(f"the reference {e} is not a finite number")
    if av is UNDEFINED:
        raise InvalidAnswer("Your answer is undefined (not a finite number).", "undefined")
    if av is HUGE:
        return Outcome(False, "numeric", exact_values=(HUGE, ev))
    ctx_imag = getattr(av, "imag", 0)
    if ctx_imag and abs(ctx_imag) > 1e-12 * max(1, abs(av)):
        raise InvalidAnswer(f"Your answer is a complex number ({format_value(av)}); the answer is real.", "complex")
    av = getattr(av, "real", av)
    ev = getattr(ev, "real", ev)
    if is_exact(a) and is_exact(e) and abs(av - ev) <= 1e-30 * max(1, abs(ev)):
        # equal to 40 digits: exact when SymPy confirms it, else "numeric"
        proven = prove_equal(a, e, opts.proof_deadline())
        return Outcome(True, "exact" if proven else "numeric", exact_values=(av, ev))
    eq = abs(av - ev) <= opts.atol + opts.rtol * abs(ev)
    return Outcome(bool(eq), "numeric", exact_values=(av, ev))


def ce_sentence(ev: Evidence | None, subject: str = "your answer", noun: str = "the correct value") -> str:
    if ev is None or ev.counterexample is None:
        return ""
    s = ev.counterexample.sentence(subject, noun)
    return s[0].upper() + s[1:] + "."


def ce_details(ev: Evidence | None) -> dict[str, Any]:
    if ev is None or ev.counterexample is None:
        return {}
    return {"counterexample": ev.counterexample.to_dict()}


@dataclass
class Named:
    ident: str
    message: str
    value: Any  # normalised like the reference of the problem


def prepare_mistakes(mistakes: Mapping[str, Any] | None, problem: "Problem", kind: str) -> list[Named]:
    out: list[Named] = []
    if not mistakes:
        return out
    for ident, entry in mistakes.items():
        if isinstance(entry, (tuple, list)) and len(entry) == 2:
            wrong, message = entry
        else:
            raise ValueError(f"mistake {ident!r} must be a pair (wrong answer, message)")
        try:
            out.append(Named(str(ident), str(message), problem.normalise_reference_like(wrong)))
        except (InvalidAnswer, ValueError, TypeError) as exc:
            raise ValueError(f"mistake {ident!r} cannot be used: {getattr(exc, 'message', exc)}") from None
    return out


# ---------------------------------------------------------------------------
# problems: one class per kind

class Problem:
    def grade(self, answer: Any, opts: Options, named: list[Named]) -> Verdict:
        raise NotImplementedError

    def normalise_reference_like(self, value: Any) -> Any:
        raise NotImplementedError

    def _match_named(self, value: Any, named: list[Named], opts: Options) -> Named | None:
        if not named:
            return None
        sub = Options(opts.kind, opts.rtol, opts.atol, opts.timeout, opts.deadline, opts.work, opts.precision,
                      opts.partial, opts.layout)
        for m in named:
            try:
                if self.matches(value, m.value, sub):
                    return m
            except Timeout:
                raise
            except InvalidAnswer:
                continue
            except Exception:
                continue
        return None

    def matches(self, value: Any, wrong: Any, opts: Options) -> bool:
        raise NotImplementedError


def expected_symbols_from_text(text: str) -> dict[str, sp.Symbol]:
    import ast

    from grader.core.answers import CONSTANTS, FUNCTIONS

    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError:
        raise ValueError(f"reference {text!r} is not valid") from None
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return {n: sp.Symbol(n, real=True) for n in names if n not in FUNCTIONS and n not in CONSTANTS}


def reference_expr(value: Any) -> sp.Expr:
    try:
        if isinstance(value, str):
            return parse_text(value, expected_symbols_from_text(value), allow_arrays=False)
        if isinstance(value, sp.Basic):
            if not isinstance(value, sp.Expr):
                raise ValueError(f"reference {value!r} is not an expression")
            return value
        syms = {}
        return to_expression(value, syms)
    except InvalidAnswer as exc:
        raise ValueError(f"unusable reference: {exc.message}") from None


def var_symbol(var: Any) -> sp.Symbol | None:
    if var is None:
        return None
    if isinstance(var, sp.Symbol):
        return var
    if isinstance(var, str):
        return sp.Symbol(var)
    raise TypeError("var must be a SymPy Symbol or a name")




def symbol_names(value: Any) -> list[str]:
    return sorted(s.name for s in free_names(value))


def free_names(value: Any) -> set[sp.Symbol]:
    if isinstance(value, sp.Basic):
        return set(value.free_symbols)
    if isinstance(value, str):
        import ast

        try:
            tree = ast.parse(value.replace("^", "**"), mode="eval")
        except SyntaxError:
            return set()
        from grader.core.answers import CONSTANTS, FUNCTIONS

        return {sp.Symbol(n.id) for n in ast.walk(tree) if isinstance(n, ast.Name)
                and n.id not in FUNCTIONS and n.id not in CONSTANTS}
    return set()


