"""Loaded by every Python process of a test subprocess whose PYTHONPATH starts with this folder.

COOP_TEST_FAKE_EXTRACTORS=1   replace the extractors by the stand-ins of tests/reliability_helpers.py
                              (once coop_pipeline.extract is imported: other processes stay light)
COOP_TEST_NETWORK_LOG=FILE    refuse every connection and name lookup that is not loopback, and
                              write each attempt (allowed or refused) to FILE
"""

import importlib.abc
import importlib.util
import os
import sys

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Run a function once a module has been imported."""

    def __init__(self, name, then):
        self.name, self.then = name, then

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            self.then()

        spec.loader.exec_module = exec_module
        return spec


def _fake_extractors():
    sys.path.insert(0, _TESTS)
    from reliability_helpers import install_fake_extractors

    install_fake_extractors()


if os.environ.get("COOP_TEST_FAKE_EXTRACTORS") == "1":
    sys.meta_path.insert(0, _AfterImport("coop_pipeline.extract", _fake_extractors))


if os.environ.get("COOP_TEST_NETWORK_LOG"):
    import ipaddress
    import socket

    _log_path = os.environ["COOP_TEST_NETWORK_LOG"]

    def _log(line):
        with open(_log_path, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {line}\n")

    def _loopback(host):
        if host in ("localhost", "localhost.localdomain", "", None):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def _check(address, what):
        if isinstance(address, tuple) and address:
            host = address[0]
            if _loopback(host):
                _log(f"allowed {what} {address!r}")
                return
            _log(f"REFUSED {what} {address!r}")
            raise ConnectionRefusedError(f"network access refused by the test: {what} {address!r}")
        _log(f"allowed {what} {address!r}")  # AF_UNIX paths are local

    _connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self, address):
        _check(address, "connect")
        return _connect(self, address)

    def connect_ex(self, address):
        _check(address, "connect")
        return _connect_ex(self, address)

    _getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host.decode() if isinstance(host, bytes) else host):
            _log(f"REFUSED lookup {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, f"name lookup refused by the test: {host!r}")
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
    _log("network guard loaded")
