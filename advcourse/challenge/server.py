"""The challenge's web app (Starlette; ``advcourse challenge serve`` runs it with uvicorn).

Endpoints: ``GET /api/task`` (shape, labels, norm, eps, query budget), ``GET /api/task/inputs.npy`` (the
clean inputs, float32), ``POST /api/submissions`` (an ``.npy`` body, ``Authorization: Bearer TOKEN``) →
score and rank, ``POST /api/query`` (black-box track: a batch of images → the model's probabilities, counted
against the team's budget), ``GET /api/team`` (the team's history and the inputs that still stand),
``GET /api/leaderboard`` (teams by best score), ``GET /api/model.safetensors`` (white box, or after the
reveal), ``POST /api/defences`` (defence track: a team's DigitsCNN weights as safetensors, scored in a worker
process; ``GET /api/defences/{id}`` its result, ``GET /api/defences/leaderboard`` the ranking),
``POST /api/progress`` (a learner's exercise check, opt-in: :func:`advcourse.exercises.room.join_room`),
``/api/admin/{open,close,reveal,reset,export.csv,progress}`` (instructor token), and three pages with no
external resources (they work in a room with no internet): ``GET /`` the leaderboard for the projector,
``GET /team#CODE`` a team's history and the inputs that still stand, ``GET /room#ADMIN`` the room's
progress through the exercises. Tokens travel in the URL's fragment, which the browser never sends.
Every rejection is a 4xx with a JSON ``{"error": ...}`` that names the failed check; each team may
make at most 10 submissions and queries per 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import io
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from advcourse.challenge.checks import MAX_BYTES, Rejected, parse_queries, parse_submission
from advcourse.challenge.defence import MAX_WEIGHT_BYTES, parse_weights, score_with_time_limit
from advcourse.challenge.folder import Challenge
from advcourse.challenge.store import ADMIN_ACTIONS

__all__ = ["create_app"]

PAGES = Path(__file__).with_name("pages")
#: What a progress report may name: a course notebook, one of its check functions, a learner.
_NOTEBOOK, _EXERCISE = re.compile(r"\d\d_[a-z_]{1,40}"), re.compile(r"check_[a-z0-9_]{1,60}")
_PROGRESS_BYTES = 2000
_NO_TOKEN = "token: missing or unknown (send 'Authorization: Bearer <your team token>')"


def _html(name: str, title: str) -> HTMLResponse:
    """A page from ``pages/``, with the shared style sheet and script inlined and its title filled in."""
    text = (PAGES / f"{name}.html").read_text(encoding="utf-8")
    shared = {"{{style}}": (PAGES / "style.css").read_text(encoding="utf-8"),
              "{{common}}": (PAGES / "common.js").read_text(encoding="utf-8"), "{{title}}": html.escape(title)}
    for mark, value in shared.items():
        text = text.replace(mark, value)
    return HTMLResponse(text)


def _checked_weights(body: bytes) -> bytes:
    """A defence's safetensors file, as uploaded, once :func:`parse_weights` accepts it (stored as sent)."""
    parse_weights(body)
    return body


def _progress_report(body: bytes) -> dict:
    """A learner's exercise report, ``{"learner", "notebook", "exercise", "passed"}``, checked field by field."""
    try:
        report = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Rejected("progress: expected a JSON object") from None
    if not isinstance(report, dict) or set(report) != {"learner", "notebook", "exercise", "passed"}:
        raise Rejected("progress: expected exactly the keys learner, notebook, exercise, passed")
    learner, notebook, exercise, ok = (report[k] for k in ("learner", "notebook", "exercise", "passed"))
    if not isinstance(learner, str) or not 1 <= len(learner) <= 40 or not learner.isprintable():
        raise Rejected("learner: expected 1 to 40 printable characters")
    if not isinstance(notebook, str) or not _NOTEBOOK.fullmatch(notebook):
        raise Rejected("notebook: expected a course notebook's name, like '05_fgsm'")
    if not isinstance(exercise, str) or not _EXERCISE.fullmatch(exercise):
        raise Rejected("exercise: expected a check function's name, like 'check_fgsm_by_hand'")
    if not isinstance(ok, bool):
        raise Rejected("passed: expected true or false")
    return report


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
    reports = _RateLimit(60, 10.0)  # a team's learners all report their checks: a limit of its own
    store = challenge.store
    one_writer = ThreadPoolExecutor(1, thread_name_prefix="challenge-writer")  # no waiting on SQLite's lock

    async def write(method, *args):
        return await asyncio.get_running_loop().run_in_executor(one_writer, method, *args)

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

    async def body_of(request: Request, most: int = MAX_BYTES) -> bytes | None:
        body = bytearray()
        async for chunk in request.stream():  # read at most ``most`` bytes, whatever Content-Length claims
            body += chunk
            if len(body) > most:
                return None
        return bytes(body)

    def refused(request: Request, window: _RateLimit = limit) -> tuple[str | None, JSONResponse | None]:
        """The team behind a learner's request, or the error that refuses it."""
        team = team_of(request)
        if team is None:
            return None, _error(401, _NO_TOKEN)
        if not window.allow(team):
            return None, _error(429, f"rate: more than {window.calls} requests in {window.seconds:g} s; wait a moment")
        return team, None

    async def upload(request: Request, most: int, parse: Callable[[bytes], Any], *, round_open: bool = True,
                     window: _RateLimit = limit) -> tuple[str, Any] | JSONResponse:
        """The team behind an upload and its body (at most ``most`` bytes) as ``parse`` reads it, or the error
        that refuses it: token, rate, closed round, size, or the :class:`Rejected` check that failed."""
        team, error = refused(request, window)
        if error:
            return error
        if round_open and store.get("round", "open") != "open":
            return _error(403, "round: closed by the instructor; no more submissions")
        body = await body_of(request, most)
        if body is None:
            return _error(413, f"upload: more than the {most} bytes allowed")
        try:
            return team, parse(body)
        except Rejected as err:
            return _error(400, str(err))

    async def task(request: Request) -> Response:
        return JSONResponse({"shape": list(challenge.inputs.shape), "labels": challenge.labels.tolist(),
                             "norm": challenge.norm, "eps": challenge.eps, "sha256": challenge.sha256,
                             "queries": challenge.queries, "open": store.get("round", "open") == "open",
                             "weights_published": challenge.white_box or store.get("revealed") == "yes"})

    async def inputs(request: Request) -> Response:
        return Response(inputs_npy.getvalue(), media_type="application/octet-stream")

    async def submit(request: Request) -> Response:
        sent = await upload(request, MAX_BYTES,
                            partial(parse_submission, clean=challenge.inputs, norm=challenge.norm, eps=challenge.eps))
        if isinstance(sent, Response):
            return sent
        team, x = sent
        async with lock:
            score, fooled = await asyncio.to_thread(_score, challenge, x)
        # durable before the reply, written by the one writer thread while the event loop keeps answering
        ident = await write(store.add_submission, team, score, np.packbits(fooled).tobytes())
        board = store.leaderboard()
        rank = next(k for k, row in enumerate(board, start=1) if row["team"] == team)
        return JSONResponse({"id": ident, "score": score, "fooled": int(fooled.sum()), "of": len(fooled),
                             "rank": rank, "teams": len(board)})

    async def query(request: Request) -> Response:
        if not challenge.queries:
            return _error(403, "queries: this challenge has no black-box track")
        sent = await upload(request, MAX_BYTES, lambda body: parse_queries(body, challenge.inputs.shape[1:]),
                            round_open=False)
        if isinstance(sent, Response):
            return sent
        team, x = sent
        left = await write(store.spend_queries, team, len(x), challenge.queries)
        if left is None:
            return _error(429, f"queries: this would pass your team's budget of {challenge.queries}")
        async with lock:
            probs = await asyncio.to_thread(_probabilities, challenge, x)
        return JSONResponse({"probabilities": probs.round(6).tolist(), "remaining": left})

    async def team_page(request: Request) -> Response:
        team = team_of(request)
        if team is None:
            return _error(401, _NO_TOKEN)
        bitmap = store.best_fooled(team)
        fooled = np.unpackbits(np.frombuffer(bitmap, np.uint8))[:len(challenge.labels)].astype(bool) if bitmap else None
        standing = list(range(len(challenge.labels))) if fooled is None else np.flatnonzero(~fooled).tolist()
        history = store.submissions(team)
        best = max((row["score"] for row in history), default=None)
        return JSONResponse({"team": team, "submissions": history, "best": best, "of": len(challenge.labels),
                             "standing": standing, "defences": store.defences(team)})

    wake, stop = asyncio.Event(), threading.Event()

    async def defend(request: Request) -> Response:
        sent = await upload(request, MAX_WEIGHT_BYTES, _checked_weights)
        if isinstance(sent, Response):
            return sent
        team, body = sent
        ident = await write(store.add_defence, team, body)
        if ident is None:
            return _error(429, "defence: your team's previous defence is still being scored; wait for its result")
        wake.set()
        return JSONResponse({"id": ident, "status": "queued"}, status_code=202)

    async def defence_status(request: Request) -> Response:
        team = team_of(request)
        if team is None:
            return _error(401, _NO_TOKEN)
        mine = [row for row in store.defences(team) if row["id"] == request.path_params["ident"]]
        return JSONResponse(mine[0]) if mine else _error(404, "defence: your team has no defence with this id")

    async def defence_board(request: Request) -> Response:
        return JSONResponse(store.defence_leaderboard())

    async def defence_worker() -> None:
        """Score queued defences one at a time, each in its own process with the challenge's time limit."""
        while not stop.is_set():
            wake.clear()
            job = await asyncio.to_thread(store.next_defence)
            if job is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=2)
                continue
            ident, weights = job
            result = await asyncio.to_thread(
                score_with_time_limit, weights, challenge.inputs, challenge.labels, eps=challenge.eps,
                norm=challenge.norm, floor=challenge.defence_floor, seconds=challenge.defence_seconds, stop=stop)
            if result is not None:
                await asyncio.to_thread(store.finish_defence, ident, result)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        worker = asyncio.create_task(defence_worker())
        try:
            yield
        finally:
            stop.set()
            wake.set()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def progress(request: Request) -> Response:
        sent = await upload(request, _PROGRESS_BYTES, _progress_report, round_open=False, window=reports)
        if isinstance(sent, Response):
            return sent
        team, report = sent
        await write(store.record_progress, team, report["learner"], report["notebook"], report["exercise"],
                    report["passed"])
        return JSONResponse({"recorded": True})

    async def model(request: Request) -> Response:
        if not (challenge.white_box or store.get("revealed") == "yes"):
            return _error(403, "model: the weights are published when the instructor reveals them")
        return FileResponse(challenge.folder / "model.safetensors", media_type="application/octet-stream")

    async def admin(request: Request) -> Response:
        if not is_admin(request):
            return _error(403, "token: admin actions need the instructor token (DIR/admin_token)")
        action = request.path_params["action"]
        if action == "export.csv":
            return Response(store.export_csv(), media_type="text/csv")
        if action == "progress":
            return JSONResponse(store.progress())
        if action not in ADMIN_ACTIONS:
            return _error(404, f"action: expected {', '.join(ADMIN_ACTIONS)}, export.csv or progress, got {action!r}")
        if request.method != "POST":
            return _error(405, f"{action}: use POST")
        return JSONResponse(await write(store.admin, action))

    title = f"Attack my model · {dict(linf='L∞', l2='L2')[challenge.norm]} ε = {challenge.eps:g}"

    async def page(request: Request) -> Response:
        return _html("leaderboard", title)

    async def team_html(request: Request) -> Response:
        return _html("team", title)

    async def room_html(request: Request) -> Response:
        return _html("room", "The room's progress")

    async def leaderboard(request: Request) -> Response:
        return JSONResponse(store.leaderboard())

    async def no_route(request: Request, exc: HTTPException) -> Response:
        what = "no such page or endpoint" if exc.status_code == 404 else f"{request.method} is not allowed here"
        return _error(exc.status_code, f"path: {what} ({request.url.path[:100]})")

    return Starlette(lifespan=lifespan, exception_handlers={404: no_route, 405: no_route}, routes=[
        Route("/", page), Route("/team", team_html), Route("/room", room_html),
        Route("/api/task", task), Route("/api/task/inputs.npy", inputs),
        Route("/api/submissions", submit, methods=["POST"]), Route("/api/query", query, methods=["POST"]),
        Route("/api/leaderboard", leaderboard), Route("/api/team", team_page),
        Route("/api/progress", progress, methods=["POST"]), Route("/api/defences", defend, methods=["POST"]),
        Route("/api/defences/leaderboard", defence_board), Route("/api/defences/{ident:int}", defence_status),
        Route("/api/model.safetensors", model),
        Route("/api/admin/{action}", admin, methods=["GET", "POST"]),
    ])


def _probabilities(challenge: Challenge, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(challenge.model(torch.from_numpy(x)), 1).numpy()
