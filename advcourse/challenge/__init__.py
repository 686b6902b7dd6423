"""Workshop mode: an "attack my model" challenge served from the instructor's laptop.

The instructor creates a challenge folder (a hidden digits model, a fixed set of test digits and their
budget), adds teams, and serves it on the room's network; learners fetch the task, attack it and
submit adversarial digits; the server checks every submission against its own copy of the clean
inputs, scores it with its own model, stores it, and ranks the teams.

- :mod:`advcourse.challenge.folder` — the challenge folder: :func:`init_challenge`, :func:`add_team`,
  the hidden model committed by its SHA-256;
- :mod:`advcourse.challenge.store` — teams, submissions, query counts, defences and room progress in
  SQLite (WAL); join codes (the teams' tokens) stored hashed;
- :mod:`advcourse.challenge.checks` — what a submission must be (an ``.npy`` float32 array of the task's
  shape, finite, in [0, 1], within the budget of the clean inputs), with one clear reason per rejection;
- :mod:`advcourse.challenge.defence` — the defence track: a team's DigitsCNN weights (safetensors),
  checked, held to a clean-accuracy floor, scored by ``worst_case`` in a worker process with a time limit;
- :mod:`advcourse.challenge.server` — the web app (Starlette, served by uvicorn): the task, submissions,
  queries, defences, progress; the projector's leaderboard, each team's page, the instructor's room page;
- :mod:`advcourse.challenge.client` — :func:`join`, what a learner calls from a notebook
  (``notebooks/workshop/attack_my_model.ipynb``).

    $ advcourse challenge init room --eps 0.15       # prints the hidden model's SHA-256
    $ advcourse challenge team room "the owls" --url http://192.168.1.10:8000   # join code and QR code
    $ advcourse challenge serve room --host 0.0.0.0 --port 8000
    $ advcourse challenge admin room close           # open, close, reveal, reset, export

    >>> task = join("http://192.168.1.10:8000", "ABCD-EFGH-JKMN-PQRS")
    >>> task.submit(x_adv)                            # {'score': 0.42, 'rank': 3, ...}
"""

from advcourse.challenge.client import ChallengeError, Task, join
from advcourse.challenge.folder import add_team, init_challenge

__all__ = ["join", "Task", "ChallengeError", "init_challenge", "add_team"]
