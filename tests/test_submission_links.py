"""No link is ever followed out of a submission (issue 21, class 1): refused with a sentence naming it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.course.grading.submission_files import (
    MAX_FILE_BYTES, check_submission, copy_submission, link_problem, read_files, read_notebook_text,
)
from grader.course.grading.trusted import GradingRefused


@pytest.fixture
def course(tmp_path: Path) -> Path:
    (tmp_path / ".calcgrade" / "keys").mkdir(parents=True)
    (tmp_path / ".calcgrade" / "keys" / "a1.json").write_text('{"secret": "private key"}')
    sub = tmp_path / "submitted" / "mallory" / "a1"
    sub.mkdir(parents=True)
    (sub / "basics.ipynb").write_text("{}")
    (sub / "data.csv").write_text("x,y\n1,2\n")
    other = tmp_path / "submitted" / "alice" / "a1"
    other.mkdir(parents=True)
    (other / "basics.ipynb").write_text('{"alice": true}')
    return tmp_path


def _sub(course: Path) -> Path:
    return course / "submitted" / "mallory" / "a1"


def test_an_honest_submission_is_copied_as_regular_files(course, tmp_path):
    dest = tmp_path / "out"
    copy_submission(_sub(course), dest, below=course / "submitted")
    assert sorted(p.name for p in dest.iterdir()) == ["data.csv"]
    assert (dest / "data.csv").read_text() == "x,y\n1,2\n" and not (dest / "data.csv").is_symlink()
    assert read_files(_sub(course), skip=()) == {"basics.ipynb": b"{}", "data.csv": b"x,y\n1,2\n"}


@pytest.mark.parametrize("make, named", [
    (lambda s, c: os.symlink("../../../.calcgrade/keys/a1.json", s / "key.json"), "key.json"),
    (lambda s, c: os.symlink(c / ".calcgrade" / "keys", s / "keys"), "keys"),
    (lambda s, c: (s / "basics.ipynb").unlink() or os.symlink(c / "submitted/alice/a1/basics.ipynb",
                                                               s / "basics.ipynb"), "basics.ipynb"),
    (lambda s, c: (s / "deep").mkdir() or os.symlink("/etc/hostname", s / "deep" / "h"), "deep/h"),
    (lambda s, c: os.symlink("nowhere", s / "dangling"), "dangling"),
    (lambda s, c: os.mkfifo(s / "pipe"), "pipe"),
])
def test_a_link_or_special_file_refuses_the_submission_naming_it(course, tmp_path, make, named):
    make(_sub(course), course)
    problem = link_problem(_sub(course), below=course / "submitted")
    assert problem is not None and named in problem
    with pytest.raises(GradingRefused, match=named.split("/")[-1]):
        copy_submission(_sub(course), tmp_path / "out", below=course / "submitted")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))


def test_a_submission_folder_that_is_a_link_is_refused(course):
    (course / "submitted" / "eve").mkdir()
    os.symlink(course / "submitted" / "alice" / "a1", course / "submitted" / "eve" / "a1")
    problem = link_problem(course / "submitted" / "eve" / "a1", below=course / "submitted")
    assert problem and "eve/a1" in problem and "link" in problem
    os.symlink(course / "submitted" / "alice", course / "submitted" / "trudy")
    assert "trudy" in link_problem(course / "submitted" / "trudy" / "a1", below=course / "submitted")


def test_what_a_link_following_copy_brought_in_is_removed_when_refusing(course, tmp_path):
    os.symlink("../../../.calcgrade/keys/a1.json", _sub(course) / "key.json")
    autograded = tmp_path / "autograded"
    autograded.mkdir()
    (autograded / "key.json").write_text('{"secret": "private key"}')   # what shutil.copy made of the link
    (autograded / "data.csv").write_text("x")
    with pytest.raises(GradingRefused, match="key.json"):
        check_submission(_sub(course), below=course / "submitted", copied_to=autograded)
    assert not (autograded / "key.json").exists() and (autograded / "data.csv").exists()


def test_a_notebook_link_cannot_be_read_and_sizes_are_capped(course):
    nb = _sub(course) / "basics.ipynb"
    nb.unlink()
    os.symlink(course / "submitted" / "alice" / "a1" / "basics.ipynb", nb)
    with pytest.raises(GradingRefused, match="links are not graded"):
        read_notebook_text(nb)
    big = _sub(course) / "big.bin"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    nb.unlink()
    problem = link_problem(_sub(course))
    assert problem and "big.bin" in problem and "larger than" in problem


def test_collect_refuses_a_submission_with_a_link_and_copies_the_others_without_following(course, tmp_path, caplog):
    """`nbgrader collect` through the course's exchange: the instructor's copy follows no link."""
    import logging

    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory

    from grader.course.grading.safecollect import SafeCollect

    coursedir = CourseDirectory(root=str(course))
    collect = SafeCollect(coursedir=coursedir, authenticator=Authenticator())
    inbound = tmp_path / "inbound"
    honest = inbound / "alice+a1+2026-12-06 10:00:00.000000 UTC"
    honest.mkdir(parents=True)
    (honest / "basics.ipynb").write_text('{"honest": 1}')
    hostile = inbound / "mallory+a1+2026-12-06 10:00:00.000000 UTC"
    hostile.mkdir(parents=True)
    (hostile / "key.json").symlink_to(course / ".calcgrade" / "keys" / "a1.json")
    (hostile / "basics.ipynb").write_text("{}")
    with caplog.at_level(logging.ERROR):
        collect.do_copy(str(honest), str(tmp_path / "got" / "alice"))
        collect.do_copy(str(hostile), str(tmp_path / "got" / "mallory"))
    assert (tmp_path / "got" / "alice" / "basics.ipynb").read_text() == '{"honest": 1}'
    assert not (tmp_path / "got" / "mallory").exists()
    assert any("key.json" in r.getMessage() and "Not collected" in r.getMessage() for r in caplog.records)
    from nbgrader.exchange import ExchangeFactory
    from traitlets.config import Config

    config = Config()
    exec(compile((Path(__file__).resolve().parents[1] / "nbgrader_config.py").read_text(), "nbgrader_config.py",
                 "exec"), {"c": config, "get_config": lambda: config, "__file__": str(tmp_path / "nbgrader_config.py")})
    assert ExchangeFactory(config=config).collect is SafeCollect
