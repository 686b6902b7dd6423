"""The challenge's web app (Starlette; ``advcourse challenge serve`` runs it with uvicorn).

Endpoints: ``GET /api/task`` (shape, labels, norm, eps, query budget), ``GET /api/task/inputs.npy`` (the
clean inputs, float32), ``POST /api/submissions`` (an ``.npy`` body, ``Authorization: Bearer TOKEN``) →
score and rank, ``POST /api/query`` (black-box track: a batch of images → the model's probabilities, counted
against the team's budget), ``GET /api/team`` (the team's history and the inputs that still stand),
``GET /api/leaderboard`` (teams by best score), ``GET /api/model.safetensors`` (white box, or after the
reveal), ``/api/admin/{open,close,reveal,export.csv}`` (instructor token), and ``GET /`` the leaderboard
page for the projector (no external resources: it works in a room with no internet). Every rejection
is a 4xx with a JSON ``{"error": ...}`` that names the failed check; each team may make at most 10
submissions and queries per 10 s.
"""

from __future__ import annotations

import asyncio
import csv
import hmac
import html
import io
import time

import numpy as np
import torch
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from advcourse.challenge.checks import MAX_BYTES, Rejected, parse_queries, parse_submission
from advcourse.challenge.folder import Challenge

__all__ = ["create_app"]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _score(challenge: Challenge, x: np.ndarray) -> tuple[float, np.ndarray]:
    with torch.no_grad():
        answers = challenge.model(torch.from_numpy(x)).argmax(1).numpy()
    fooled = answers != challenge.labels
    return float(fooled.mean()), fooled


class _RateLimit:
    """At most ``calls`` requests per ``seconds`` per team (a sliding window, in memory)."""

    def __init__(self, calls: int = 10, seconds: float = 10.0) -> None:
        self.calls, self.seconds, self.seen = calls, seconds, {}

    def allow(self, team: str) -> bool:
        now = time.monotonic()
        recent = [t for t in self.seen.get(team, []) if now - t < self.seconds]
        if len(recent) >= self.calls:
            self.seen[team] = recent
            return False
        self.seen[team] = recent + [now]
        return True


def create_app(challenge: Challenge, *, rate: tuple[int, float] = (10, 10.0)) -> Starlette:
    """The app serving ``challenge`` (from :func:`~advcourse.challenge.folder.load_challenge`); ``rate``:
    each team's submissions and queries together, at most ``rate[0]`` per ``rate[1]`` seconds."""
    lock = asyncio.Lock()  # one model call at a time: the model is shared, the CPU has few cores
    limit = _RateLimit(*rate)
    store = challenge.store
    inputs_npy = io.BytesIO()
    np.save(inputs_npy, challenge.inputs, allow_pickle=False)

    def bearer(request: Request) -> str:
        header = request.headers.get("authorization", "")
        return header[7:].strip() if header.lower().startswith("bearer ") else ""

    def team_of(request: Request) -> str | None:
        token = bearer(request)
        return store.team_of(token) if token else None

    def is_admin(request: Request) -> bool:
        return hmac.compare_digest(bearer(request).encode(), challenge.admin_token.encode())

    async def body_of(request: Request) -> bytes | None:
        body = bytearray()
        async for chunk in request.stream():  # read at most MAX_BYTES, whatever Content-Length claims
            body += chunk
            if len(body) > MAX_BYTES:
                return None
        return bytes(body)

    def refused(request: Request) -> tuple[str | None, JSONResponse | None]:
        """The team behind a learner's request, or the error that refuses it."""
        team = team_of(request)
        if team is None:
            return None, _error(401, "token: missing or unknown (send 'Authorization: Bearer <your team token>')")
        if not limit.allow(team):
            return None, _error(429, f"rate: more than {limit.calls} requests in {limit.seconds:g} s; wait a moment")
        return team, None

    async def task(request: Request) -> Response:
        return JSONResponse({"shape": list(challenge.inputs.shape), "labels": challenge.labels.tolist(),
                             "norm": challenge.norm, "eps": challenge.eps, "sha256": challenge.sha256,
                             "queries": challenge.queries, "open": store.get("round", "open") == "open",
                             "weights_published": challenge.white_box or store.get("revealed") == "yes"})

    async def inputs(request: Request) -> Response:
        return Response(inputs_npy.getvalue(), media_type="application/octet-stream")

    async def submit(request: Request) -> Response:
        team, error = refused(request)
        if error:
            return error
        if store.get("round", "open") != "open":
            return _error(403, "round: closed by the instructor; no more submissions")
        body = await body_of(request)
        if body is None:
            return _error(413, f"upload: more than the {MAX_BYTES} bytes allowed")
        try:
            x = parse_submission(body, challenge.inputs, norm=challenge.norm, eps=challenge.eps)
        except Rejected as err:
            return _error(400, str(err))
        async with lock:
            score, fooled = await asyncio.to_thread(_score, challenge, x)
            ident = store.add_submission(team, score, np.packbits(fooled).tobytes())  # durable before the reply
        board = store.leaderboard()
        rank = next(k for k, row in enumerate(board, start=1) if row["team"] == team)
        return JSONResponse({"id": ident, "score": score, "fooled": int(fooled.sum()), "of": len(fooled),
                             "rank": rank, "teams": len(board)})

    async def query(request: Request) -> Response:
        team, error = refused(request)
        if error:
            return error
        if not challenge.queries:
            return _error(403, "queries: this challenge has no black-box track")
        body = await body_of(request)
        if body is None:
            return _error(413, f"upload: more than the {MAX_BYTES} bytes allowed")
        try:
            x = parse_queries(body, challenge.inputs.shape[1:])
        except Rejected as err:
            return _error(400, str(err))
        left = store.spend_queries(team, len(x), challenge.queries)
        if left is None:
            return _error(429, f"queries: this would pass your team's budget of {challenge.queries}")
        async with lock:
            probs = await asyncio.to_thread(_probabilities, challenge, x)
        return JSONResponse({"probabilities": probs.round(6).tolist(), "remaining": left})

    async def team_page(request: Request) -> Response:
        team = team_of(request)
        if team is None:
            return _error(401, "token: missing or unknown (send 'Authorization: Bearer <your team token>')")
        best = store.best_fooled(team)
        fooled = np.unpackbits(np.frombuffer(best, np.uint8))[:len(challenge.labels)].astype(bool) if best else None
        standing = list(range(len(challenge.labels))) if fooled is None else np.flatnonzero(~fooled).tolist()
        return JSONResponse({"team": team, "submissions": store.submissions(team), "standing": standing})

    async def model(request: Request) -> Response:
        if not (challenge.white_box or store.get("revealed") == "yes"):
            return _error(403, "model: the weights are published when the instructor reveals them")
        return FileResponse(challenge.folder / "model.safetensors", media_type="application/octet-stream")

    async def admin(request: Request) -> Response:
        if not is_admin(request):
            return _error(403, "token: admin actions need the instructor token (DIR/admin_token)")
        action = request.path_params["action"]
        if action == "export.csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["id", "team", "score", "created"])
            writer.writerows(store.all_submissions())
            return Response(out.getvalue(), media_type="text/csv")
        if request.method != "POST":
            return _error(405, f"{action}: use POST")
        if action in ("open", "close"):
            store.set("round", "open" if action == "open" else "closed")
        elif action == "reveal":
            store.set("revealed", "yes")
        else:
            return _error(404, f"action: expected open, close, reveal or export.csv, got {action!r}")
        return JSONResponse({"round": store.get("round", "open"), "revealed": store.get("revealed") == "yes"})

    async def page(request: Request) -> Response:
        norm = {"linf": "L∞", "l2": "L2"}[challenge.norm]
        return HTMLResponse(_PAGE.replace("{{title}}", html.escape(f"Attack my model · {norm} ε = {challenge.eps:g}")))

    async def leaderboard(request: Request) -> Response:
        return JSONResponse(store.leaderboard())

    return Starlette(routes=[
        Route("/", page), Route("/api/task", task), Route("/api/task/inputs.npy", inputs),
        Route("/api/submissions", submit, methods=["POST"]), Route("/api/query", query, methods=["POST"]),
        Route("/api/leaderboard", leaderboard), Route("/api/team", team_page), Route("/api/model.safetensors", model),
        Route("/api/admin/{action}", admin, methods=["GET", "POST"]),
    ])


def _probabilities(challenge: Challenge, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(challenge.model(torch.from_numpy(x)), 1).numpy()


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
