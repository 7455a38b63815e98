"""Identity spoofing against variant questions (issue 23): 0 successful attacks.

The trusted grader grades the variant of the gradebook's student (the ``submitted/<student>/`` folder).  Each
attack below is a submission that claims, from inside the notebook, to be another student (``alice``):

* in the notebook's and the cells' metadata (where nbgrader and calcgrade keep their own data);
* in the environment (``CALCGRADE_STUDENT``, ``JUPYTERHUB_USER``, ``USER``) and with ``set_student``;
* in an edited (locked) setup cell;
* by switching the sandbox's own grading state to alice's numbers (``capture.configure``).

Each attack is submitted twice: with alice's answers (a copy: it must lose exactly the variant points, as a
plain copy does) and with the submitter's own answers (it must keep full marks: the claim chose nothing).
Both through ``calcgrade autograde`` and stock ``nbgrader autograde``.
"""

from __future__ import annotations

import copy
import shutil

import nbformat
import pytest

import course_support
from grader.course.grading import autograde
from grader.course.coursedir import nbgrader_api as load_api, scripts_on_path as course_path
from grader.course.release.variantnb import student_numbers, variant_notebook
from grader.key import files

pytestmark = pytest.mark.slow

ASSIGNMENT = "01_sums_products"
NOTEBOOK = "sums_products.ipynb"
VARIANT_QIDS = ("nested_product", "sum_of_squares")
VICTIM = "alice"


def _claim_metadata(nb, who: str):
    nb.metadata["calcgrade_variant"] = {"student": who, "solution": True}
    nb.metadata.setdefault("nbgrader", {})["student"] = who
    nb.metadata["calcgrade"] = {"student": who}
    for cell in nb.cells:
        cell.metadata.setdefault("calcgrade", {})["student"] = who
    return nb


def _first_code(nb):
    return next(c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution"))


def _claim_environment(nb, who: str):
    cell = _first_code(nb)
    cell.source = (f"import os\nfor _n in ('CALCGRADE_STUDENT', 'JUPYTERHUB_USER', 'USER', 'LOGNAME'):\n"
                   f"    os.environ[_n] = {who!r}\nfrom grader import set_student\nset_student({who!r})\n" + cell.source)
    return nb


def _claim_setup_cell(nb, who: str):
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    setup.source += f"\nimport os\nos.environ['CALCGRADE_STUDENT'] = {who!r}\nfrom grader import set_student\nset_student({who!r})\n"
    return nb


def _claim_grading_state(nb, who: str, key: dict):
    from grader.key.variants import params_for_student

    cell = _first_code(nb)
    # the sandbox's own copy of the grading state, switched to alice's numbers (function inputs kept)
    cell.source = (f"from grader.notebook import capture as _c\n_c._VARIANTS.update({params_for_student(key, who)!r})\n"
                   + cell.source)
    return nb


ATTACKS = ("metadata", "environment", "setup_cell", "grading_state")


def _apply(attack: str, nb, key: dict):
    nb = copy.deepcopy(nb)
    if attack == "metadata":
        return _claim_metadata(nb, VICTIM)
    if attack == "environment":
        return _claim_environment(nb, VICTIM)
    if attack == "setup_cell":
        return _claim_setup_cell(nb, VICTIM)
    return _claim_grading_state(nb, VICTIM, key)


def _ids(key: dict, prefix: str) -> str:
    """A student id starting with ``prefix`` whose numbers differ from the victim's in every variant question."""
    victim = student_numbers(key, VICTIM)
    for n in range(1000):
        candidate = f"{prefix}{n}"
        mine = student_numbers(key, candidate)
        if all(mine[q] != victim[q] for q in VARIANT_QIDS):
            return candidate
    raise AssertionError("no such student")


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, make_released_course):
    root = make_released_course(tmp_path_factory.mktemp("identity") / "course", ASSIGNMENT)
    key = files.load_key(files.public_key_path(root, ASSIGNMENT))
    victim_solution = variant_notebook(root, ASSIGNMENT, VICTIM, solution=True)
    expected: dict[str, str] = {}   # student -> "copy" (loses the variant points) | "own" (full marks)
    for attack in ATTACKS:
        copier, honest = _ids(key, f"copy_{attack}_"), _ids(key, f"own_{attack}_")
        own_solution = variant_notebook(root, ASSIGNMENT, honest, solution=True)
        for student, nb in ((copier, victim_solution), (honest, own_solution)):
            folder = root / "submitted" / student / ASSIGNMENT
            folder.mkdir(parents=True)
            nbformat.write(_apply(attack, nb, key), str(folder / NOTEBOOK))
            (folder / "timestamp.txt").write_text("2026-11-20 17:00:00.000000 UTC\n")
        expected[copier], expected[honest] = "copy", "own"
    private = files.load_key(files.private_key_path(root, ASSIGNMENT))
    total = sum(float(e["points"]) for e in private["questions"].values())
    variant_points = sum(float(private["questions"][q]["points"]) for q in VARIANT_QIDS)
    want = {s: (total - variant_points if how == "copy" else total) for s, how in expected.items()}
    return root, want


def test_no_identity_claim_changes_a_score_in_calcgrade_autograde(attacked):
    root, want = attacked
    run = autograde.autograde_assignment(root, ASSIGNMENT, students=sorted(want))
    got = {r.student: r.score for r in run.results}
    assert all(r.success for r in run.results), [(r.student, r.error) for r in run.results]
    successful = {s: (got[s], want[s]) for s in want if got[s] != want[s]}
    assert successful == {}, f"successful identity attacks: {successful}"


def test_no_identity_claim_changes_a_score_in_stock_nbgrader_autograde(attacked, tmp_path):
    root, want = attacked
    stock = tmp_path / "stock"
    shutil.copytree(root, stock, ignore=shutil.ignore_patterns("gradebook.db*", "autograded", "feedback"))
    api = load_api(stock)
    got = {}
    with course_path():
        assert api.generate_assignment(ASSIGNMENT, force=True, create=True)["success"]
        for student in sorted(want):
            result = api.autograde(ASSIGNMENT, student, force=True, create=True)
            assert result["success"], result.get("log", "")[-2000:]
        from nbgrader.api import Gradebook

        with Gradebook(api.coursedir.db_url) as gb:
            for student in sorted(want):
                got[student] = gb.find_submission(ASSIGNMENT, student).score
    successful = {s: (got[s], want[s]) for s in want if got[s] != want[s]}
    assert successful == {}, f"successful identity attacks: {successful}"
