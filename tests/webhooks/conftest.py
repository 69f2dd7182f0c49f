"""The webhook tests' receiver: a real HTTP server on loopback (http.server.ThreadingHTTPServer on 127.0.0.1:0)
recording every request, and the shared set-up (an endpoint, a submitted week to approve)."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import date
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from redis import Redis
from rq import Queue

#: A Monday in the past: the weeks approved in these tests.
MONDAY = date(2026, 10, 5)


@dataclass
class Received:
    path: str
    headers: Message
    body: bytes


@dataclass
class Receiver:
    """The server, what it received, and the status it answers (200 unless a test changes it)."""

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/psa"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                receiver.requests.append(Received(self.path, self.headers, body))  # case-insensitive
                status = receiver.status
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True, name="webhook-receiver").start()
    return receiver


@pytest.fixture
def receiver():
    started = start_receiver()
    yield started
    started.stop()


def closed_port_url() -> str:
    """A loopback URL where nothing listens (a port bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/psa"


def make_endpoint(url: str, events=("timesheet.approved",), **kwargs):
    """An endpoint made through the service and committed (inside an app context); (id, secret)."""
    from psa.extensions import db
    from psa.webhooks import services as webhooks

    endpoint = webhooks.create_endpoint(None, url=url, description="Test receiver", events=list(events), **kwargs)
    db.session.commit()
    return endpoint.id, endpoint.secret


def approve_a_week(make, app):
    """A consultant's submitted week approved by their manager, through the services, committed; the week's id."""
    from psa.auth.models import User
    from psa.extensions import db
    from psa.timesheets import services as ts

    consultant = make.user(role="consultant", name="Cleo Consultant")
    manager = make.user(role="manager", name="Mia Manager")
    user, approver = db.session.get(User, consultant.id), db.session.get(User, manager.id)
    user.approver_id = approver.id
    sheet = ts.get_timesheet(user, MONDAY, create=True)
    ts.submit_timesheet(user, sheet)
    db.session.commit()
    ts.approve_timesheet(approver, ts.get_timesheet(user, MONDAY, lock=True))
    db.session.commit()
    return sheet.id


@pytest.fixture
def queue(app, monkeypatch, request):
    """An RQ queue of this test alone on the real Redis (REDIS_URL), set as the app's queue; jobs not inline."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is not set")
    name = f"psa-test-{request.node.name}-{os.getpid()}".replace("[", "-").replace("]", "")
    monkeypatch.setitem(app.config, "REDIS_URL", os.environ["REDIS_URL"])
    monkeypatch.setitem(app.config, "RQ_QUEUE", name)
    monkeypatch.setitem(app.config, "PSA_INLINE_JOBS", False)
    connection = Redis.from_url(os.environ["REDIS_URL"])
    rq_queue = Queue(name, connection=connection)
    yield rq_queue
    for registry in (rq_queue.finished_job_registry, rq_queue.failed_job_registry):
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
    rq_queue.delete(delete_jobs=True)
    connection.close()
