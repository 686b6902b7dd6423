"""The challenge's web app (Starlette; ``advcourse challenge serve`` runs it with uvicorn).

Endpoints: ``GET /api/task`` (shape, labels, norm, eps), ``GET /api/task/inputs.npy`` (the clean inputs,
float32), ``POST /api/submissions`` (an ``.npy`` body, ``Authorization: Bearer TOKEN``) → score and
rank, ``GET /api/leaderboard`` (teams by best score), ``GET /`` the leaderboard page for the projector
(no external resources: it works in a room with no internet). Every rejection is a 4xx with a JSON
``{"error": ...}`` that names the failed check.
"""

from __future__ import annotations

import asyncio
import html
import io

import numpy as np
import torch
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from advcourse.challenge.checks import MAX_BYTES, Rejected, parse_submission
from advcourse.challenge.folder import Challenge

__all__ = ["create_app"]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _score(challenge: Challenge, x: np.ndarray) -> tuple[float, np.ndarray]:
    with torch.no_grad():
        answers = challenge.model(torch.from_numpy(x)).argmax(1).numpy()
    fooled = answers != challenge.labels
    return float(fooled.mean()), fooled


def create_app(challenge: Challenge) -> Starlette:
    """The app serving ``challenge`` (from :func:`~advcourse.challenge.folder.load_challenge`)."""
    lock = asyncio.Lock()  # one scoring at a time: the model is shared, the CPU has few cores
    inputs_npy = io.BytesIO()
    np.save(inputs_npy, challenge.inputs, allow_pickle=False)

    async def task(request: Request) -> Response:
        return JSONResponse({"shape": list(challenge.inputs.shape), "labels": challenge.labels.tolist(),
                             "norm": challenge.norm, "eps": challenge.eps, "sha256": challenge.sha256})

    async def inputs(request: Request) -> Response:
        return Response(inputs_npy.getvalue(), media_type="application/octet-stream")

    async def submit(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        team = challenge.store.team_of(token) if token else None
        if team is None:
            return _error(401, "token: missing or unknown (send 'Authorization: Bearer <your team token>')")
        body = bytearray()
        async for chunk in request.stream():  # read at most MAX_BYTES, whatever Content-Length claims
            body += chunk
            if len(body) > MAX_BYTES:
                return _error(413, f"upload: more than the {MAX_BYTES} bytes allowed")
        try:
            x = parse_submission(bytes(body), challenge.inputs, norm=challenge.norm, eps=challenge.eps)
        except Rejected as err:
            return _error(400, str(err))
        async with lock:
            score, fooled = await asyncio.to_thread(_score, challenge, x)
            challenge.store.add_submission(team, score, np.packbits(fooled).tobytes())
        board = challenge.store.leaderboard()
        rank = next(k for k, row in enumerate(board, start=1) if row["team"] == team)
        return JSONResponse({"score": score, "fooled": int(fooled.sum()), "of": len(fooled), "rank": rank,
                             "teams": len(board)})

    async def leaderboard(request: Request) -> Response:
        return JSONResponse(challenge.store.leaderboard())

    async def page(request: Request) -> Response:
        return HTMLResponse(_PAGE.replace("{{title}}", html.escape(f"Attack my model · {challenge.norm} ε = "
                                                                   f"{challenge.eps:g}")))

    return Starlette(routes=[
        Route("/", page), Route("/api/task", task), Route("/api/task/inputs.npy", inputs),
        Route("/api/submissions", submit, methods=["POST"]), Route("/api/leaderboard", leaderboard),
    ])


# The projector page: large type, refreshed every two seconds from /api/leaderboard; no external files.
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<style>
body { font-family: system-ui, sans-serif; background: #111; color: #eee; margin: 2rem 4rem; }
h1 { font-size: 3rem; margin: 0 0 1.5rem; }
table { border-collapse: collapse; width: 100%; font-size: 2.4rem; }
td { padding: .4rem 1rem; border-bottom: 1px solid #444; }
td.rank { width: 4rem; color: #aaa; } td.score { text-align: right; font-variant-numeric: tabular-nums; }
tr:first-child td { color: #ffd54a; }
#empty { font-size: 2rem; color: #aaa; }
</style></head>
<body><h1>{{title}}</h1><table id="board"></table><p id="empty">No submission yet.</p>
<script>
async function refresh() {
  try {
    const rows = await (await fetch("/api/leaderboard", {cache: "no-store"})).json();
    const table = document.getElementById("board");
    table.replaceChildren(...rows.map((row, k) => {
      const tr = document.createElement("tr");
      for (const [cls, text] of [["rank", k + 1], ["team", row.team], ["score", (100 * row.score).toFixed(0) + " %"]]) {
        const td = document.createElement("td"); td.className = cls; td.textContent = text; tr.appendChild(td);
      }
      return tr;
    }));
    document.getElementById("empty").hidden = rows.length > 0;
  } catch (err) { /* the server restarts: keep the last board */ }
}
refresh(); setInterval(refresh, 2000);
</script></body></html>
"""
