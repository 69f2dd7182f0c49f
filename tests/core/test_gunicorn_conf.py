"""gunicorn.conf.py: a worker freezes its long-lived objects once it has loaded the app, and once more after its
first FREEZE_AFTER requests (not before, not again)."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path
from types import SimpleNamespace

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def test_a_worker_freezes_after_loading_and_after_its_first_requests():
    conf = runpy.run_path(str(CONF))
    worker = SimpleNamespace()
    try:
        gc.unfreeze()
        conf["post_worker_init"](worker)
        assert gc.get_freeze_count() > 0 and worker.psa_requests == 0
        gc.unfreeze()
        for _ in range(conf["FREEZE_AFTER"] - 1):
            conf["post_request"](worker, None, {}, None)
        assert gc.get_freeze_count() == 0  # not yet
        conf["post_request"](worker, None, {}, None)
        assert gc.get_freeze_count() > 0  # the FREEZE_AFTER-th request
        gc.unfreeze()
        conf["post_request"](worker, None, {}, None)
        assert gc.get_freeze_count() == 0  # once only
    finally:
        gc.unfreeze()
