"""The suite itself runs with the network blocked; prove the guard is really on."""

import socket
import subprocess
import sys

import pytest
from netguard import NetworkBlocked


def test_outside_connections_are_refused():
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("192.0.2.1", 80), timeout=1)  # TEST-NET-1, never local
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("download.pytorch.org", 443)


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    with socket.create_connection(server.getsockname(), timeout=1):
        pass
    server.close()


def test_subprocesses_start_offline():
    """Notebook kernels and CLI runs are subprocesses: they inherit the guard via sitecustomize."""
    code = "import socket\ntry:\n socket.create_connection(('192.0.2.1', 80), timeout=1)\nexcept OSError as e:\n print(type(e).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "NetworkBlocked"
