"""A web page to talk with an agent and rate it (``dialog-envs serve``).

:mod:`dialog_envs.web.app` builds the FastAPI application (an optional dependency: ``pip install
'dialog-envs[web]'``); ``static/`` holds the page it serves (plain HTML, CSS and JavaScript, no
build step, nothing fetched from elsewhere). Ratings and preferences go to the same feedback log
as ``dialog-envs rate`` (:mod:`dialog_envs.feedback`).
"""
