"""The student's journey in a real JupyterLab, in a real (headless) Chromium.

A student opens the derivatives assignment in JupyterLab, types a correct answer
into one answer cell and the classic chain-rule mistake into another, runs the
notebook, and reads the feedback that ``check`` renders.  The test asserts what the
student sees (the verdict's mark, points and the targeted message), that nbgrader's
JupyterLab extensions work there (the Validate button validates the edited notebook;
the assignment list shows the assignment for the course), and leaves screenshots in
``test-artifacts/``.

Nothing is mocked: the project's own JupyterLab, kernel, nbgrader extensions, answer
key and Debian's Chromium.  The harness lives in ``browser_support``.
"""

from __future__ import annotations

import getpass
import re
import shutil
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import browser_support as lab

from playwright.sync_api import expect

if TYPE_CHECKING:  # pragma: no cover
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[1]
EXERCISES = REPO / "exercises"
ASSIGNMENT = "02_derivatives"
NOTEBOOK = f"{ASSIGNMENT}/derivatives.ipynb"
ARTIFACTS = REPO / "test-artifacts"

CORRECT_ANSWER = "d_power = 10*x**9"
CLASSIC_MISTAKE = "d_chain = 3*(x**2 + 1)**2"  # forgot the inner derivative 2x

RUN_TIMEOUT_MS = 90_000  # the whole notebook, Run All, on 2 busy cores
VALIDATE_TIMEOUT_MS = 90_000  # nbgrader validate runs the notebook again in a new kernel

# Rendering on 2 busy cores can lag: give Playwright's retrying assertions more than 5 s.
expect.set_options(timeout=20_000)


def course_id() -> str:
    """The course id set in the project's nbgrader_config.py."""
    config = (REPO / "nbgrader_config.py").read_text()
    match = re.search(r"""CourseDirectory\.course_id\s*=\s*["']([^"']+)["']""", config)
    assert match, "nbgrader_config.py sets no CourseDirectory.course_id"
    return match.group(1)


@pytest.fixture
def lab_root(tmp_path: Path) -> Path:
    """A private copy of the released assignment (notebook, public key, data files)."""
    _require_chromium()
    source = EXERCISES / ASSIGNMENT
    assert (EXERCISES / NOTEBOOK).exists(), f"exercises/{NOTEBOOK} is missing: release the assignment"
    root = tmp_path / "exercises"
    shutil.copytree(source, root / ASSIGNMENT, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


@pytest.fixture
def jupyterlab(lab_root: Path, tmp_path: Path) -> Iterator[lab.JupyterLabServer]:
    home = tmp_path / "jupyter-home"
    home.mkdir()
    lab.release_to_student_exchange(home, course_id(), lab_root / ASSIGNMENT)
    with lab.running_jupyterlab(lab_root, home) as server:
        yield server


def _require_chromium() -> None:
    if not lab.CHROMIUM.exists():
        pytest.skip(f"{lab.CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Page]:
    """A tab of Debian's headless Chromium with a fresh profile (named so as not to clash with pytest-playwright)."""
    _require_chromium()
    with lab.chromium_context(tmp_path / "chromium-profile") as context:
        context.set_default_timeout(30_000)
        yield context.pages[0] if context.pages else context.new_page()


def _screenshot(page: Page, name: str, capsys: pytest.CaptureFixture[str]) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    with capsys.disabled():
        print(f"\n[browser test] screenshot: {path}")
    return path


def _points(verdict: Locator) -> tuple[float, float]:
    """The "earned / total points" a verdict shows (CONTRACTS.md: e.g. "2 / 2 points")."""
    text = verdict.inner_text()
    match = re.search(r"([\d.]+)\s*/\s*([\d.]+)\s*points?", text)
    assert match, f"no points in the verdict {text!r}"
    return float(match.group(1)), float(match.group(2))


def test_student_gets_feedback_in_jupyterlab(
    jupyterlab: lab.JupyterLabServer, browser_page: Page, capsys: pytest.CaptureFixture[str]
) -> None:
    page = browser_page
    timings: dict[str, float] = {}
    start = time.monotonic()
    passed = False
    try:
        panel = lab.open_notebook(page, jupyterlab, NOTEBOOK)
        timings["open notebook, kernel idle"] = time.monotonic() - start

        # nbgrader's JupyterLab extension is installed and enabled in this server's page config ...
        extensions = page.evaluate(
            "() => JSON.parse(document.getElementById('jupyter-config-data').textContent)"
            ".federated_extensions.map(e => e.name)"
        )
        assert "@jupyter/nbgrader" in extensions, extensions
        # ... and its notebook part is live: the Validate button in the notebook toolbar.
        validate = panel.locator(".jp-Toolbar .validate-button")
        expect(validate, "nbgrader's Validate button in the notebook toolbar").to_be_visible()
        expect(validate).to_contain_text("Validate")

        # The student types a correct answer and a classic mistake.
        t = time.monotonic()
        power_cell = lab.code_cell_matching(panel, r"^\s*d_power\s*=")
        chain_cell = lab.code_cell_matching(panel, r"^\s*d_chain\s*=")
        lab.replace_cell_source(page, power_cell, CORRECT_ANSWER)
        lab.replace_cell_source(page, chain_cell, CLASSIC_MISTAKE)
        assert lab.cell_source(power_cell) == CORRECT_ANSWER
        assert lab.cell_source(chain_cell) == CLASSIC_MISTAKE
        timings["type two answers"] = time.monotonic() - t

        # Run > Run All Cells, and wait for both verdicts to render.
        t = time.monotonic()
        lab.run_all_cells(page)
        power = panel.locator('.jp-OutputArea .calcgrade-verdict[data-qid="power_rule"]')
        chain = panel.locator('.jp-OutputArea .calcgrade-verdict[data-qid="chain_rule"]')
        # Run All runs top to bottom, so the later verdict arrives last.
        chain.wait_for(state="attached", timeout=RUN_TIMEOUT_MS)
        power.wait_for(state="attached", timeout=RUN_TIMEOUT_MS)
        lab.wait_kernel_idle(panel, RUN_TIMEOUT_MS)
        timings["run all cells"] = time.monotonic() - t

        assert power.count() == 1 and chain.count() == 1

        # What the student reads (innerText: only what is rendered, retried until it is).
        # power_rule: the mark "Correct" and full points.
        assert power.get_attribute("data-correct") == "true"
        lab.scroll_to_center(power)
        expect(power).to_contain_text("Correct", use_inner_text=True)
        expect(power).not_to_contain_text("Not yet", use_inner_text=True)
        earned, total = _points(power)
        assert earned == total > 0, f"power_rule shows {earned} / {total} points"
        _screenshot(page, "browser_power_rule.png", capsys)

        # chain_rule: "Not yet", no points, and the targeted hint about the inner derivative.
        assert chain.get_attribute("data-correct") == "false"
        lab.scroll_to_center(chain)
        expect(chain).to_contain_text("Not yet", use_inner_text=True)
        expect(chain).to_contain_text(re.compile("inner derivative", re.IGNORECASE), use_inner_text=True)
        earned, total = _points(chain)
        assert earned == 0 and total > 0, f"chain_rule shows {earned} / {total} points"
        _screenshot(page, "browser_derivatives.png", capsys)

        # nbgrader's Validate button: it saves the notebook and runs `nbgrader validate` on it
        # in the server (a fresh kernel, NBGRADER_EXECUTION=validate).  nbgrader reads each
        # test cell's float score: the chain-rule cell fails, the power-rule cell passes.
        t = time.monotonic()
        validate.click()
        dialog = page.locator(".jp-Dialog")
        expect(dialog.locator(".jp-Dialog-header")).to_have_text("Validation Results", timeout=VALIDATE_TIMEOUT_MS)
        failed = dialog.locator("#validation-message pre").all_inner_texts()
        assert 'check("chain_rule", d_chain)' in failed, failed
        assert not any('"power_rule"' in cell for cell in failed), failed
        timings["validate"] = time.monotonic() - t
        _screenshot(page, "browser_validate.png", capsys)
        dialog.get_by_role("button", name="Ok").click()
        expect(dialog).to_have_count(0)

        # nbgrader's assignment list: Nbgrader > Assignment List opens the "Assignments" panel.
        t = time.monotonic()
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
        tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tabLabel", has_text="Assignments")
        tab.wait_for(state="visible")
        assignments = page.locator("#nbgrader-assignment-list")
        assignments.wait_for(state="visible")
        # The list comes from nbgrader's server extension reading the exchange: the copy
        # in JupyterLab's root shows as downloaded, for our course, ready to submit.
        fetched = assignments.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first
        fetched.wait_for(state="visible", timeout=30_000)
        assert course_id() in fetched.locator(".item_course").first.inner_text()
        expect(fetched.locator("button", has_text="Submit")).to_be_visible()
        _screenshot(page, "browser_assignment_list.png", capsys)
        timings["open assignment list"] = time.monotonic() - t
        passed = True
    finally:
        timings["total"] = time.monotonic() - start
        if not passed:
            try:
                _screenshot(page, "browser_derivatives_failure.png", capsys)
            except Exception as error:  # noqa: BLE001 - a failed screenshot must not hide the failure
                print(f"[browser test] no failure screenshot: {error}")
            print("[browser test] JupyterLab log tail:\n" + jupyterlab.log_tail())
        with capsys.disabled():
            print("[browser test] " + ", ".join(f"{k}: {v:.1f} s" for k, v in timings.items()))


# ---------------------------------------------------------------- release -> fetch -> submit -> collect


@pytest.fixture
def released_course(tmp_path: Path) -> Path:
    """A course folder holding the derivatives assignment, released by `calcgrade release` (which creates
    the exchange its nbgrader_config.py names, with nbgrader's permissions, and publishes there)."""
    _require_chromium()
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    proc = subprocess.run([str(Path(sys.executable).parent / "calcgrade"), "release", ASSIGNMENT], cwd=root,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"published to nbgrader's exchange: {root / 'exchange' / course_id() / 'outbound' / ASSIGNMENT}" in proc.stdout
    return root


@pytest.fixture
def student_lab(released_course: Path, tmp_path: Path) -> Iterator[lab.JupyterLabServer]:
    """A student's JupyterLab: an empty home folder, the course's exchange, nbgrader's instructor parts hidden."""
    from grader.course import coursedir

    home = tmp_path / "student-jupyter"
    home.mkdir()
    lab.configure_student(home, str(coursedir.exchange_root(released_course)), coursedir.course_id(released_course))
    root = tmp_path / "student"
    root.mkdir()
    with lab.running_jupyterlab(root, home) as server:
        yield server


def test_student_fetches_answers_and_submits_and_the_instructor_collects(
    released_course: Path, student_lab: lab.JupyterLabServer, browser_page: Page, capsys: pytest.CaptureFixture[str]
) -> None:
    page = browser_page
    server = student_lab
    passed = False
    start = time.monotonic()
    try:
        page.goto(f"{server.url}/lab?token={server.token}", wait_until="domcontentloaded", timeout=60_000)
        menu = page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")
        menu.wait_for(state="visible", timeout=60_000)

        # The instructor's parts are hidden: the plugins are disabled in the page config, the Nbgrader
        # menu offers only the Assignment List, and the formgrader is not served.
        config = page.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data').textContent)")
        assert set(lab.INSTRUCTOR_LAB_PLUGINS) <= set(config.get("disabledExtensions", [])), config.get(
            "disabledExtensions")
        menu.click()
        labels = [text.strip() for text in page.locator(".lm-Menu-itemLabel").all_inner_texts() if text.strip()]
        assert "Assignment List" in labels, labels
        for hidden in ["Formgrader", "Create Assignment", "Course List"]:
            assert not any(hidden in label for label in labels), labels
        with pytest.raises(urllib.error.HTTPError) as info:
            server.api("/formgrader")
        assert info.value.code == 404
        _screenshot(page, "browser_student_menu.png", capsys)

        # Nbgrader > Assignment List: the released assignment, fetched with its button.
        page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
        assignments = page.locator("#nbgrader-assignment-list")
        assignments.wait_for(state="visible")
        expect(assignments).not_to_contain_text("Error fetching courses!")
        released = assignments.locator("#released_assignments_list .list_item", has_text=ASSIGNMENT).first
        released.wait_for(state="visible", timeout=60_000)
        assert course_id() in released.locator(".item_course").first.inner_text()
        released.locator("button", has_text="Fetch").click()
        fetched = assignments.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first
        fetched.wait_for(state="visible", timeout=60_000)
        notebook = server.root / NOTEBOOK
        assert notebook.is_file(), f"the fetch did not write {notebook}"
        _screenshot(page, "browser_fetched.png", capsys)

        # The student answers one question, runs it, and saves.
        panel = lab.open_notebook(page, server, NOTEBOOK)
        lab.replace_cell_source(page, lab.code_cell_matching(panel, r"^\s*d_power\s*="), CORRECT_ANSWER)
        page.keyboard.press("Control+s")
        deadline = time.monotonic() + 30
        while CORRECT_ANSWER not in notebook.read_text() and time.monotonic() < deadline:
            time.sleep(0.25)
        assert CORRECT_ANSWER in notebook.read_text(), "the notebook was not saved"

        # Back to the Assignment List (opening the notebook loaded a new page): Submit; the submission is listed.
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
        assignments = page.locator("#nbgrader-assignment-list")
        assignments.wait_for(state="visible")
        fetched = assignments.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first
        fetched.locator("button", has_text="Submit").click()
        submitted = assignments.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT).first
        submitted.wait_for(state="visible", timeout=60_000)
        expect(assignments).not_to_contain_text("Error submitting assignment.")
        _screenshot(page, "browser_submitted.png", capsys)

        # The instructor collects: nbgrader finds the submission in the exchange.
        collect = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "collect", ASSIGNMENT],
                                 cwd=released_course, capture_output=True, text=True, timeout=300)
        assert collect.returncode == 0, collect.stdout + collect.stderr
        collected = list((released_course / "submitted").glob(f"*/{ASSIGNMENT}/derivatives.ipynb"))
        assert len(collected) == 1, collect.stdout + collect.stderr
        assert collected[0].parent.parent.name == getpass.getuser()
        assert CORRECT_ANSWER in collected[0].read_text()
        passed = True
    finally:
        if not passed:
            try:
                _screenshot(page, "browser_submit_failure.png", capsys)
            except Exception as error:  # noqa: BLE001 - a failed screenshot must not hide the failure
                print(f"[browser test] no failure screenshot: {error}")
            print("[browser test] JupyterLab log tail:\n" + server.log_tail())
        with capsys.disabled():
            print(f"[browser test] release -> fetch -> submit -> collect: {time.monotonic() - start:.1f} s")
