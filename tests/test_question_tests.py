"""Question tests at key build: declared test answers must get their verdict from both keys; a reference
equal to its own named mistake, or two equal named mistakes, are refused even without tests.  And the
private key records what it was built from, so a stale key is named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from fixtures import make_course

from grader.course.release.keybuild import KeyBuildError, build_keys, private_key_problem, solutions_digest

pytestmark = pytest.mark.slow
ASSIGNMENT = make_course.ASSIGNMENT


def _course(tmp: Path) -> Path:
    root = tmp / "course"
    shutil.copytree(make_course.COURSE, root, ignore=shutil.ignore_patterns(".calcgrade", "calcgrade_public.json"))
    return root


def _edit(root: Path, edits: dict[str, list[tuple[str, str]]]) -> None:
    path = root / "solutions" / ASSIGNMENT / "basics.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        for old, new in edits.get(cell.metadata.get("nbgrader", {}).get("grade_id"), []):
            assert old in cell.source, (old, cell.source)
            cell.source = cell.source.replace(old, new, 1)
    nbformat.write(nb, str(path))


def test_declared_question_tests_pass_on_both_keys_and_stay_private(tmp_path):
    root = _course(tmp_path)
    _edit(root, {
        "ans_chain_rule": [('question("chain_rule", d_chain, var=x,',
                            'question("chain_rule", d_chain, var=x, tests=[(6*x*(x**2 + 1)**2, True), '
                            '(3*(x**2 + 1)**2, "forgot_inner_derivative"), (x, False)],')],
        "ans_sum_value": [("question(\"sum_value\", total,", "question(\"sum_value\", total, tests=[(55.0, True), "
                           "(45, 'off_by_one'), (56, False)],")],
        "ans_mse": [('question("mse", mse,', 'question("mse", mse, tests=[(lambda y, yhat: float(np.mean('
                     '(np.asarray(yhat, dtype=float) - np.asarray(y, dtype=float))**2)), True), '
                     '(lambda y, yhat: float(np.sum((np.asarray(y) - np.asarray(yhat))**2)), "sum_not_mean")],')],
    })
    result = build_keys(root, ASSIGNMENT, write=True)
    private = json.loads(result.private_text)
    assert [t["expect"] for t in private["questions"]["chain_rule"]["tests"]] == [True, "forgot_inner_derivative", False]
    assert len(private["questions"]["mse"]["tests"]) == 2
    assert '"tests"' not in result.public_text  # question tests stay in the private key
    assert private["solutions_digest"] == solutions_digest(root, ASSIGNMENT)
    # the key is current; an edit of the solutions makes it stale, named with what to run
    assert private_key_problem(root, ASSIGNMENT) is None
    _edit(root, {"ans_sum_value": [("total = sum(range(1, 11))", "total = sum(range(1, 11))  # the sum")]})
    assert private_key_problem(root, ASSIGNMENT) == (
        f"the private key of {ASSIGNMENT} was built from older solutions (solutions/{ASSIGNMENT} changed since): "
        f"run `calcgrade release {ASSIGNMENT}`")
    (root / ".calcgrade" / "keys" / f"{ASSIGNMENT}.json").unlink()
    assert private_key_problem(root, ASSIGNMENT) == (
        f"{ASSIGNMENT} has no private key ({root / '.calcgrade' / 'keys' / f'{ASSIGNMENT}.json'} is missing): "
        f"run `calcgrade release {ASSIGNMENT}`")


def test_every_slip_a_question_test_catches_is_named(tmp_path):
    root = _course(tmp_path)
    _edit(root, {
        # the reference slipped into its own named mistake (the solution still checks itself as correct)
        "ans_chain_rule": [("d_chain = sp.diff((x**2 + 1)**3, x)", "d_chain = 3*(x**2 + 1)**2")],
        # two named mistakes that are the same answer
        "ans_sum_value": [('mistakes={"off_by_one": (45,', 'mistakes={"early_stop": (45, "Stopped early."), '
                                                           '"off_by_one": (45,')],
        # a declared test with the wrong verdict, and one naming a mistake the question does not have
        "ans_closed_form": [('question("closed_form", closed,',
                             'question("closed_form", closed, tests=[(m*(m + 1)/2, True), (m**2/2, True), '
                             '(m, "no_such_mistake")],')],
        # a function question's test: the mistake is expected, but this function is right
        "ans_mse": [('question("mse", mse,', 'question("mse", mse, tests=[(lambda y, yhat: float(np.mean('
                     '(np.asarray(y) - np.asarray(yhat))**2)), "sum_not_mean")],')],
    })
    with pytest.raises(KeyBuildError) as info:
        build_keys(root, ASSIGNMENT, write=True)
    problems = info.value.problems
    assert problems == [
        "question 'chain_rule': the reference equals its own named mistake 'forgot_inner_derivative' "
        "(a slip in the reference, or in the mistake)",
        "question 'closed_form', test 2 (m**2/2): should be correct, the private key says wrong",
        "question 'closed_form', test 3 (m): expects the named mistake 'no_such_mistake', but the question names "
        "off_by_one_m",
        "question 'mse', test 1 (a function giving 0.0, 1.6666666666666667, 2.125, …): should be the named "
        "mistake 'sum_not_mean', the private key says correct",
        "question 'sum_value': the named mistakes 'early_stop' and 'off_by_one' are the same answer",
    ]
    assert not (root / ".calcgrade").exists()  # nothing was written
    assert not (root / "solutions" / ASSIGNMENT / "calcgrade_public.json").exists()
