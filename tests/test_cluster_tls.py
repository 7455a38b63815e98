"""Dask over TLS (issue 21): ``--scheduler tls://...`` with Dask's own security configuration, certificates
made here (a throw-away CA); plain tcp:// warns that the cluster must be on a private network."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dask_support
from grader.course.sandbox import cluster
from grader.course.sandbox.executor import Job, Limits

pytestmark = pytest.mark.slow


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=str(cwd), check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, str]:
    """A CA and one certificate for 127.0.0.1 signed by it (scheduler, worker and client share it)."""
    folder = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=calcgrade test CA", cwd=folder)
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr",
             "-subj", "/CN=127.0.0.1", cwd=folder)
    _openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "node.pem", "-days", "2", "-extfile", "san.cnf", cwd=folder)
    return {"ca": str(folder / "ca.pem"), "cert": str(folder / "node.pem"), "key": str(folder / "node.key")}


def _tls_env(certs: dict[str, str]) -> dict[str, str]:
    env = {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": certs["ca"],
           "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"}
    for role in ("SCHEDULER", "WORKER", "CLIENT"):
        env[f"DASK_DISTRIBUTED__COMM__TLS__{role}__CERT"] = certs["cert"]
        env[f"DASK_DISTRIBUTED__COMM__TLS__{role}__KEY"] = certs["key"]
    return env


@pytest.fixture(scope="module")
def tls_cluster(certs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask-tls")
    env = {**dask_support._env(), **_tls_env(certs)}
    port = dask_support.free_port()
    address = f"tls://127.0.0.1:{port}"
    dask = dask_support._dask()
    procs = []
    try:
        procs.append(subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                       "--protocol", "tls", "--no-dashboard"], cwd=str(folder), env=env,
                                      stdout=subprocess.DEVNULL, stderr=open(folder / "scheduler.log", "wb"),
                                      start_new_session=True))
        procs.append(subprocess.Popen([*dask, "worker", address, "--name", "w1", "--host", "127.0.0.1",
                                       "--nthreads", "1", "--no-dashboard", "--local-directory", str(folder)],
                                      cwd=str(folder), env=env, stdout=subprocess.DEVNULL,
                                      stderr=open(folder / "w1.log", "wb"), start_new_session=True))
        yield address
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)


def _job(key: str, answer: int) -> Job:
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": f"from grader import check\ncheck('q', {answer})"}]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return Job(key, nb, {}, {}, Limits(cell_timeout=10.0, notebook_timeout=120.0))


def test_jobs_run_on_a_tls_scheduler_with_dasks_security_configuration(tls_cluster, certs, capsys):
    import dask

    config = {"distributed.comm.tls.ca-file": certs["ca"], "distributed.comm.tls.client.cert": certs["cert"],
              "distributed.comm.tls.client.key": certs["key"], "distributed.comm.require-encryption": True}
    deadline = time.monotonic() + 120
    while cluster.scheduler_problem(tls_cluster) and time.monotonic() < deadline:
        time.sleep(0.5)
    with dask.config.set(config):
        done = {e.key: e for e in cluster.run_jobs([_job("a/x/n.ipynb", 1), _job("b/x/n.ipynb", 2)], tls_cluster,
                                                   worker_wait=120)}
    assert {k: e.payloads for k, e in done.items()} == {
        "a/x/n.ipynb": {0: [{"qid": "q", "answer": 1, "v": 1}]}, "b/x/n.ipynb": {0: [{"qid": "q", "answer": 2, "v": 1}]}}
    assert all(e.sandboxed and e.stopped is None for e in done.values())
    assert "private network" not in capsys.readouterr().err


def test_a_tls_scheduler_without_certificates_is_refused_in_one_sentence(tls_cluster):
    import dask

    with dask.config.set({"distributed.comm.tls.ca-file": None, "distributed.comm.tls.client.cert": None}):
        with pytest.raises(cluster.ClusterUnavailable, match="Dask's TLS configuration"):
            cluster.connect(tls_cluster)


def test_plain_tcp_warns_that_the_scheduler_must_be_on_a_private_network(capsys):
    with dask_support.DaskCluster(workers=()) as plain:
        cluster.connect(plain.address).close()
    err = capsys.readouterr().err
    assert f"{plain.address} is plain tcp://" in err and "private network" in err and "tls://" in err
