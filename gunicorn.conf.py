"""gunicorn reads this file from the directory it starts in (the repository's root): the README's production
command and `make bench` both start there. Command-line options still win.

Python's garbage collector, in a full collection, walks every object the process holds: some 180,000 once the app,
its templates and SQLAlchemy's statement cache are loaded, 95–110 ms a walk on the bench machine, and a report
page's thousands of rows set one off every second or third request. Objects that live as long as the worker are
moved out of its reach (gc.freeze, as Instagram's Django does): once when the worker has loaded the app, and once
more after its first requests, which compile the templates and statements. A full collection then walks only what
requests made: 1–4 ms."""

import gc

#: After this many requests a worker freezes what they left behind (templates, compiled statements).
FREEZE_AFTER = 50


def _freeze() -> None:
    gc.collect()
    gc.freeze()


def post_worker_init(worker):
    _freeze()
    worker.psa_requests = 0


def post_request(worker, req, environ, resp):
    worker.psa_requests = getattr(worker, "psa_requests", 0) + 1
    if worker.psa_requests == FREEZE_AFTER:
        _freeze()
