"""No network during a run, and no evaluation or unpickling of anything read from input."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reliability_helpers import write_articles

ROOT = Path(__file__).resolve().parent.parent
SITECUSTOM = Path(__file__).parent / "sitecustom"


def guarded_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    log = tmp_path / "network.log"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SITECUSTOM), os.environ.get("PYTHONPATH")])),
        "COOP_TEST_NETWORK_LOG": str(log),
    }
    return env, log


def test_the_network_guard_refuses_what_is_not_loopback(tmp_path):
    env, log = guarded_env(tmp_path)
    code = (
        "import socket\n"
        "for attempt in [lambda: socket.socket().connect(('203.0.113.7', 80)), lambda: socket.create_connection(('example.org', 443))]:\n"
        "    try:\n"
        "        attempt()\n"
        "    except OSError as exc:\n"
        "        print('refused', type(exc).__name__)\n"
        "server = socket.create_server(('127.0.0.1', 0))\n"
        "socket.create_connection(server.getsockname(), timeout=1).close()\n"
        "print('loopback ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split("\n")[:3] == ["refused ConnectionRefusedError", "refused gaierror", "loopback ok"], done.stderr
    lines = log.read_text().splitlines()
    assert sum("REFUSED" in line for line in lines) == 2 and any("allowed connect ('127.0.0.1'" in line for line in lines)


@pytest.mark.slow
def test_a_run_makes_no_connection_but_to_loopback(tmp_path):
    env, log = guarded_env(tmp_path)
    write_articles(tmp_path / "raw", 20)
    done = subprocess.run(
        [sys.executable, "-m", "coop_pipeline", "run", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout
    lines = log.read_text().splitlines()
    assert any("network guard loaded" in line for line in lines)
    refused = [line for line in lines if "REFUSED" in line]
    assert not refused, f"the run tried to reach the network: {refused[:5]}"


# Calls that would run or rebuild objects from data: none may exist in the pipeline's code.
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_ATTRS = {("pickle", "load"), ("pickle", "loads"), ("marshal", "load"), ("marshal", "loads"), ("yaml", "load"),
                   ("yaml", "unsafe_load"), ("shelve", "open"), ("cloudpickle", "loads"), ("dill", "loads"), ("jsonpickle", "decode")}
FORBIDDEN_MODULES = {"pickle", "marshal", "shelve", "dill", "cloudpickle", "jsonpickle"}


def code_files() -> list[Path]:
    return sorted((ROOT / "src" / "coop_pipeline").rglob("*.py")) + sorted((ROOT / "flows").rglob("*.py"))


@pytest.mark.parametrize("path", code_files(), ids=lambda p: p.name)
def test_no_evaluation_or_unpickling_of_input(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"{func.id}() at line {node.lineno}")
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and (func.value.id, func.attr) in FORBIDDEN_ATTRS:
                found.append(f"{func.value.id}.{func.attr}() at line {node.lineno}")
            for keyword in node.keywords:
                if keyword.arg == "shell" and isinstance(keyword.value, ast.Constant) and keyword.value.value is True:
                    found.append(f"shell=True at line {node.lineno}")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found += [f"import {n} at line {node.lineno}" for n in names if n and n.split(".")[0] in FORBIDDEN_MODULES]
    assert not found, f"{path.relative_to(ROOT)}: {found}"
