"""Workshop mode: an "attack my model" challenge served from the instructor's laptop.

The instructor creates a challenge folder (a hidden digits model, a fixed set of test digits and their
budget), adds teams, and serves it on the room's network; learners fetch the task, attack it and
submit adversarial digits; the server checks every submission against its own copy of the clean
inputs, scores it with its own model, stores it, and ranks the teams.

- :mod:`advcourse.challenge.folder` — the challenge folder: :func:`init_challenge`, :func:`add_team`,
  the hidden model committed by its SHA-256;
- :mod:`advcourse.challenge.store` — teams and submissions in SQLite (WAL), tokens stored hashed;
- :mod:`advcourse.challenge.checks` — what a submission must be (an ``.npy`` float32 array of the task's
  shape, finite, in [0, 1], within the budget of the clean inputs), with one clear reason per rejection;
- :mod:`advcourse.challenge.server` — the web app (Starlette, served by uvicorn): the task, the
  submissions, the leaderboard JSON and its page for the projector;
- :mod:`advcourse.challenge.client` — :func:`join`, what a learner calls from a notebook.

    $ advcourse challenge init room --eps 0.15       # prints the hidden model's SHA-256
    $ advcourse challenge team room "the owls"        # prints the team's token
    $ advcourse challenge serve room --port 8000

    >>> task = join("http://192.168.1.10:8000", token)
    >>> task.submit(x_adv)                            # {'score': 0.42, 'rank': 3}
"""

from advcourse.challenge.client import ChallengeError, Task, join
from advcourse.challenge.folder import add_team, init_challenge

__all__ = ["join", "Task", "ChallengeError", "init_challenge", "add_team"]
