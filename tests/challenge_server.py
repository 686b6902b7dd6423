"""A challenge server for tests: uvicorn on a free local port, in a thread, stopped after."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from labserver import _free_port


@contextmanager
def live_challenge(folder: Path, rate: tuple[int, float] = (10, 10.0)) -> Iterator[str]:
    """Serve the challenge in ``folder`` (``rate``: each team's requests per window, as ``create_app``);
    yields its base URL (``http://127.0.0.1:PORT``)."""
    import uvicorn

    from advcourse.challenge.folder import load_challenge
    from advcourse.challenge.server import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(load_challenge(folder), rate=rate), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the challenge server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
