"""Harness for driving a real JupyterLab in Debian's headless Chromium.

Why a harness of our own: the browser test must prove the student's journey in the
real front end (JupyterLab + nbgrader's extensions + our check() output), so nothing
here is mocked.  What this module owns is the plumbing that makes such a test
reliable on a small shared machine:

* a JupyterLab server started from the project's interpreter, on 127.0.0.1, a free
  port and a known token, with private config/data/runtime/settings folders so the
  machine's own Jupyter settings cannot leak in, and a shutdown that always reaps
  the server *and* its kernels (kernels live in their own sessions);
* a Chromium (``/usr/bin/chromium``, never a downloaded browser) driven by
  Playwright's sync API, with a fresh profile folder;
* a few notebook gestures a student makes: open a notebook, wait for the kernel,
  replace the text of a cell by typing, Run All, read rendered output.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from playwright.sync_api import BrowserContext, Locator, Page

CHROMIUM = Path("/usr/bin/chromium")

# The flags this machine needs: no sandbox as root, and no background traffic
# (the network is closed; Chromium otherwise retries Google's hosts at start).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]

SERVER_START_TIMEOUT = 60.0  # seconds; JupyterLab imports nbgrader's extensions (slow on 2 busy cores)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_Process = tuple[int, str]  # (pid, start time in clock ticks): a pid is only "the same" with both


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (which may hold spaces and ')')."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def _descendants(pid: int) -> list[_Process]:
    """Every live descendant of ``pid`` (kernels run in sessions of their own, not in its group)."""
    children: dict[int, list[_Process]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            # fields[0] is the state, [1] the parent pid, [19] the start time.
            children.setdefault(int(fields[1]), []).append((int(entry.name), fields[19]))
    found: list[_Process] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


def _alive(process: _Process) -> bool:
    """Still running (not a zombie), and still the process we recorded (no pid reuse)."""
    fields = _stat_fields(process[0])
    return bool(fields) and fields[0] != "Z" and fields[19] == process[1]


def stop_process_tree(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop a server started with ``start_new_session=True`` and every process it spawned.

    SIGTERM first (JupyterLab then shuts its kernels down itself), SIGKILL for whatever
    is still alive after ``grace`` seconds.  Only the server's own process group and the
    descendants recorded before the stop are signalled, each by its id.
    """
    descendants = _descendants(proc.pid)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)
    deadline = time.monotonic() + grace
    while any(_alive(p) for p in descendants) and time.monotonic() < deadline:
        time.sleep(0.2)
    for process in descendants:
        if _alive(process):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process[0], signal.SIGKILL)


@dataclass(frozen=True)
class JupyterLabServer:
    """A running JupyterLab: where it is, how to authenticate, where it logs."""

    url: str  # http://127.0.0.1:PORT
    token: str
    root: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def lab_url(self, relpath: str) -> str:
        """Address of a notebook (path relative to the server's root) in the JupyterLab UI."""
        return f"{self.url}/lab/tree/{relpath}?token={self.token}"

    def api(self, path: str) -> object:
        """GET a JSON endpoint of the server (e.g. ``/api/kernels``)."""
        request = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no server log)"


def _isolated_env(home: Path) -> dict[str, str]:
    """The environment for the server: the machine's Jupyter settings cannot leak in.

    Config, data, runtime, IPython and JupyterLab settings/workspaces all point into
    ``home``; the project's environment (sys.prefix) still provides the installed
    extensions (nbgrader's server and lab extensions are enabled there).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "NBGRADER"))}
    env.pop("IPYTHONDIR", None)
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "IPYTHONDIR": home / "ipython",
        "JUPYTERLAB_SETTINGS_DIR": home / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    # No news or update checks: they would reach for the network and pop up a toast.
    notification = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    return env


def release_to_student_exchange(home: Path, course_id: str, assignment: Path) -> Path:
    """Make ``assignment`` appear as released to a student, the way nbgrader's exchange does.

    Writes an nbgrader config into the server's private Jupyter config folder (the
    student's side: exchange root and course id) and puts a copy of the released
    assignment where ``nbgrader release_assignment`` would: ``<exchange>/<course>/outbound/``.
    Call before ``running_jupyterlab(root, home)`` with the same ``home``.
    """
    exchange = home / "exchange"
    outbound = exchange / course_id / "outbound" / assignment.name
    shutil.copytree(assignment, outbound, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    config = home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
    )
    return outbound


# nbgrader's instructor parts, hidden from a student's JupyterLab by `calcgrade student-setup`
from grader.course.release.studentsetup import INSTRUCTOR_LAB_PLUGINS, INSTRUCTOR_SERVER_EXTENSIONS  # noqa: E402,F401


def configure_student(home: Path, exchange_root: str, course_id: str) -> None:
    """A student's Jupyter set up the way docs/INSTRUCTOR.md tells students: `calcgrade student-setup`
    (the course's exchange and id, nbgrader's instructor plugins disabled and locked, its instructor server
    extensions off), run for the server's private config folder.  Call before ``running_jupyterlab(root,
    home)`` with the same ``home``."""
    proc = subprocess.run([str(Path(sys.executable).parent / "calcgrade"), "student-setup", "--exchange",
                           exchange_root, "--course-id", course_id, "--config-dir", str(home / "config")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _die_with_parent() -> None:
    """In the server's child process: get SIGTERM if the test process dies.

    Fixtures' ``finally`` covers failures and pytest-timeout; this covers a test process
    killed outright (SIGKILL, a thread-method timeout), so no JupyterLab is left behind.
    Kernels follow their server on their own (ipykernel watches its parent).
    """
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_until_answering(server: JupyterLabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with status {server.proc.returncode} before answering:\n"
                + server.log_tail()
            )
        try:
            server.api("/api/status")
            return
        except (urllib.error.URLError, ConnectionError, OSError) as error:
            last_error = error
            time.sleep(0.25)
    raise TimeoutError(
        f"JupyterLab did not answer within {timeout:.0f} s ({last_error}):\n" + server.log_tail()
    )


class _PortTaken(RuntimeError):
    """The free port we picked was taken by someone else before the server bound it."""


def _start_jupyterlab(root: Path, env: dict[str, str], token: str, log: Path) -> JupyterLabServer:
    """Start one server process and wait until it answers; stop it again if it does not."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    server = JupyterLabServer(f"http://127.0.0.1:{port}", token, root, log, proc)
    try:
        _wait_until_answering(server, SERVER_START_TIMEOUT)
    except BaseException as error:
        stop_process_tree(proc)
        if isinstance(error, RuntimeError) and "already in use" in server.log_tail():
            raise _PortTaken(str(error)) from error
        raise
    return server


@contextlib.contextmanager
def running_jupyterlab(root: Path, home: Path) -> Iterator[JupyterLabServer]:
    """Start JupyterLab on ``root``; always stop it (and its kernels) on exit."""
    token = secrets.token_hex(16)
    env = _isolated_env(home)
    for attempt in range(3):  # another process may grab the port between our probe and the bind
        try:
            server = _start_jupyterlab(root, env, token, home / f"jupyterlab-{attempt}.log")
            break
        except _PortTaken:
            if attempt == 2:
                raise
    try:
        yield server
    finally:
        stop_process_tree(server.proc)


@contextlib.contextmanager
def chromium_context(profile: Path) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, with a fresh profile; always closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
            timeout=60_000,
        )
        try:
            yield context
        finally:
            context.close()


@contextlib.contextmanager
def offline_page(page_path: Path, profile: Path, *, click_everything: bool = False) -> Iterator[tuple[Page, list[str]]]:
    """A saved page open in Chromium with every request but ``file:`` refused (optionally after clicking
    every link and button on it, as a reader baited by a submission would), and the dialogs it opened:
    where a hostile submission's script would show (``window.PWNED`` set, a dialog)."""
    with chromium_context(profile) as context:
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                      else route.abort())
        tab = context.new_page()
        dialogs: list[str] = []
        tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        tab.goto(page_path.as_uri())
        if click_everything:
            tab.evaluate("document.querySelectorAll('a, button').forEach(e => { try { e.click(); } catch (x) {} })")
            tab.wait_for_timeout(500)
        yield tab, dialogs


# ---------------------------------------------------------------- notebook gestures


def open_notebook(page: Page, server: JupyterLabServer, relpath: str, timeout_ms: int = 60_000) -> Locator:
    """Open a notebook in JupyterLab; return its panel once every cell is rendered and the kernel is idle.

    JupyterLab attaches the cells of a long notebook in batches and creates their editors
    as it goes, so "a cell is visible" is not "the notebook is there": wait until the
    panel holds as many cells (each code cell with its editor) as the file has.
    """
    cells = len(json.loads((server.root / relpath).read_text())["cells"])
    page.goto(server.lab_url(relpath), wait_until="domcontentloaded", timeout=timeout_ms)
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
    panel.locator(".jp-Cell").first.wait_for(state="visible", timeout=timeout_ms)
    page.wait_for_function(
        """([panel, expected]) => panel.querySelectorAll('.jp-Cell').length === expected
            && Array.from(panel.querySelectorAll('.jp-CodeCell')).every(c => c.querySelector('.cm-content'))""",
        arg=[panel.element_handle(), cells],
        timeout=timeout_ms,
    )
    wait_kernel_idle(panel, timeout_ms)
    return panel


_KERNEL_READY_JS = """panel => {
    if (panel.querySelector('.jp-Spinner')) return false;          // notebook still loading
    const name = panel.querySelector('.jp-Toolbar-kernelName');
    const label = name ? name.textContent.trim() : '';
    if (!label || label === 'No Kernel') return false;              // kernel not attached yet
    const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
    return !!indicator && indicator.getAttribute('data-status') === 'idle';
}"""


def wait_kernel_idle(panel: Locator, timeout_ms: int = 60_000) -> None:
    """Wait until the notebook has a kernel and the toolbar's indicator reports it idle.

    The indicator alone is not enough: it reads "idle" while the notebook still shows
    "No Kernel", before the kernel session is attached.
    """
    panel.page.wait_for_function(_KERNEL_READY_JS, arg=panel.element_handle(), timeout=timeout_ms)


_SOURCE_JS = "el => Array.from(el.querySelectorAll('.jp-InputArea .cm-line'), l => l.textContent).join('\\n')"


def code_cell_matching(panel: Locator, pattern: str) -> Locator:
    """The one code cell whose source has a line matching ``pattern`` (a regex)."""
    regex = re.compile(pattern, re.MULTILINE)
    cells = panel.locator(".jp-CodeCell")
    sources = cells.evaluate_all(f"cells => cells.map({_SOURCE_JS})")  # one round trip for all cells
    matches = [i for i, source in enumerate(sources) if regex.search(str(source).replace("\u00a0", " "))]
    if len(matches) != 1:
        raise AssertionError(f"expected one code cell matching {pattern!r}, found {len(matches)}")
    return cells.nth(matches[0])


def cell_source(cell: Locator) -> str:
    """The source text of a cell as its editor shows it.

    Read from CodeMirror's line elements rather than ``innerText``: JupyterLab's default
    windowing skips rendering of off-screen cells (``content-visibility``), and
    ``innerText`` of a skipped element is empty.
    """
    text = cell.evaluate(_SOURCE_JS)
    return str(text).replace("\u00a0", " ").strip()


def replace_cell_source(page: Page, cell: Locator, text: str) -> None:
    """Type ``text`` into a cell in place of what it held, the way a student does."""
    editor = cell.locator(".jp-InputArea .cm-content")
    editor.scroll_into_view_if_needed()
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text, delay=10)
    page.keyboard.press("Escape")  # back to command mode
    typed = cell_source(cell)
    if typed != text:
        raise AssertionError(f"the cell holds {typed!r} after typing {text!r}")


def scroll_to_center(element: Locator, attempts: int = 10) -> None:
    """Scroll the notebook so that ``element`` sits in the middle of the view (for screenshots).

    Cells above it may still be laying out (maths typesetting, off-screen cells rendered on
    demand), which moves the element after the scroll: re-centre until it stays put.
    """
    page = element.page
    height = (page.viewport_size or {"height": 1000})["height"]
    for _ in range(attempts):
        element.evaluate("el => el.scrollIntoView({block: 'center', inline: 'nearest'})")
        page.wait_for_timeout(250)
        box = element.bounding_box()
        if box and height * 0.2 <= box["y"] + min(box["height"], height / 2) / 2 <= height * 0.8:
            return


def run_all_cells(page: Page) -> None:
    """Run > Run All Cells, from JupyterLab's menu bar."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
