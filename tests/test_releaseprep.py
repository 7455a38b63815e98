"""Declaration-only solution regions vanish from releases instead of leaving a stray stub."""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader.course.release.releaseprep import drop_declaration_regions

ROOT = Path(__file__).resolve().parent.parent


def test_a_region_with_only_question_calls_is_removed_whole():
    source = (
        "def mse(y, y_hat):\n"
        "    ### BEGIN SOLUTION\n"
        "    return 1.0\n"
        "    ### END SOLUTION\n"
        "\n"
        "### BEGIN SOLUTION\n"
        "question(\"mse\", mse, kind=\"function\",\n"
        "         inputs=[(1, 2)])\n"
        "question(\"other\", mse)\n"
        "### END SOLUTION"
    )
    assert drop_declaration_regions(source) == (
        "def mse(y, y_hat):\n"
        "    ### BEGIN SOLUTION\n"
        "    return 1.0\n"
        "    ### END SOLUTION"
    )


def test_a_region_that_also_computes_the_answer_is_kept():
    source = "d = ...\n### BEGIN SOLUTION\nd = 2*x\nquestion(\"q\", d)\n### END SOLUTION"
    assert drop_declaration_regions(source) == source


def test_unparsable_or_unterminated_regions_are_left_to_nbgrader():
    broken = "### BEGIN SOLUTION\nquestion(\n### END SOLUTION"
    assert drop_declaration_regions(broken) == broken
    open_region = "### BEGIN SOLUTION\nquestion('q', 1)"
    assert drop_declaration_regions(open_region) == open_region


def test_no_released_function_cell_has_a_stray_stub_below_the_function():
    stray = []
    for path in sorted((ROOT / "exercises").glob("*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("solution"):
                continue
            lines = cell.source.rstrip().splitlines()
            if any(l.startswith("def ") for l in lines) and lines[-1].startswith("pass  # YOUR CODE HERE"):
                stray.append(f"{path.name}: {cell.metadata['nbgrader']['grade_id']}")
    assert not stray, stray


def test_private_helpers_next_to_question_calls_are_removed_with_them():
    source = (
        "def f(x):\n"
        "    ### BEGIN SOLUTION\n"
        "    return x\n"
        "    ### END SOLUTION\n"
        "\n"
        "### BEGIN SOLUTION\n"
        "def _wrong(x):\n"
        "    return -x\n"
        "\n"
        "question(\"f\", f, kind=\"function\", inputs=[(1,)], mistakes={\"neg\": (_wrong, \"sign?\")})\n"
        "### END SOLUTION"
    )
    assert drop_declaration_regions(source) == (
        "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
    )
    # a public helper, or helpers alone, are answer material: left to nbgrader
    public = "### BEGIN SOLUTION\ndef helper(x):\n    return x\nquestion(\"q\", 1)\n### END SOLUTION"
    assert drop_declaration_regions(public) == public
    alone = "### BEGIN SOLUTION\ndef _helper(x):\n    return x\n### END SOLUTION"
    assert drop_declaration_regions(alone) == alone


def test_the_stub_below_a_placeholder_answer_is_dropped():
    from grader.course.release.releaseprep import drop_placeholder_stubs

    stub = "pass  # YOUR CODE HERE"
    assert drop_placeholder_stubs("d_chain = ...  # your answer\npass  # YOUR CODE HERE", stub) == "d_chain = ...  # your answer"
    kept = "def f(x):\n    pass  # YOUR CODE HERE"
    assert drop_placeholder_stubs(kept, stub) == kept
    assert drop_placeholder_stubs("d = 3\npass  # YOUR CODE HERE", stub) == "d = 3\npass  # YOUR CODE HERE"


def test_no_released_answer_cell_has_a_stub_below_its_placeholder():
    stray = []
    for path in sorted((ROOT / "exercises").glob("*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                if "YOUR CODE HERE" in cell.source and not cell.source.lstrip().startswith("def "):
                    stray.append(f"{path.name}: {cell.metadata['nbgrader']['grade_id']}")
    assert not stray, stray
