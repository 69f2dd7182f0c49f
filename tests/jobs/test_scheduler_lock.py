"""One scheduler per installation: two schedulers (as two `psa worker --cron` started by mistake) enqueue each
periodic job once per slot of its interval, on the real Redis; the scheduler's beat is readable."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq import Queue

from psa.jobs.cron import PeriodicScheduler, job_id, read_beat, slot_start
from psa.jobs.schedule import SCHEDULE

JOB = "tests.jobs.sample_jobs.what_the_job_sees"
T0 = datetime(2026, 12, 4, 10, 0, 30, tzinfo=UTC)


@pytest.fixture
def redis_queue(request):
    assert os.environ.get("REDIS_URL"), "the suite needs Redis (REDIS_URL), as make test and .ci/run give it"
    name = f"psa-test-cron-{request.node.name}-{os.getpid()}"
    connection = Redis.from_url(os.environ["REDIS_URL"])
    queue = Queue(name, connection=connection)
    yield queue
    queue.delete(delete_jobs=True)
    for key in connection.scan_iter(f"psa:scheduler:{name}:*"):
        connection.delete(key)
    connection.close()


def two_schedulers(queue, schedule):
    return [PeriodicScheduler(queue.connection, queue.name, schedule, name=f"scheduler-{n}") for n in (1, 2)]


def test_two_schedulers_enqueue_each_job_once_per_slot(redis_queue):
    first, second = two_schedulers(redis_queue, [(JOB, 60), ("psa.jobs.tasks.deliver_outbox_job", 900)])
    slot = slot_start(T0, 60)
    assert first.tick(T0) == [job_id(JOB, slot), job_id("psa.jobs.tasks.deliver_outbox_job", slot_start(T0, 900))]
    assert second.tick(T0) == []
    assert second.tick(T0 + timedelta(seconds=20)) == first.tick(T0 + timedelta(seconds=25)) == []
    assert redis_queue.count == 2
    [job] = [j for j in redis_queue.get_jobs() if j.func_name == JOB]
    assert job.id == f"periodic-tests_jobs_sample_jobs_what_the_job_sees-{slot}"
    # the next minute: whichever ticks first enqueues the 60-second job, the other nothing
    assert second.tick(T0 + timedelta(seconds=31)) == [job_id(JOB, slot + 60)]
    assert first.tick(T0 + timedelta(seconds=32)) == []
    assert redis_queue.count == 3


def test_two_schedulers_ticking_at_the_same_moment_enqueue_once(redis_queue):
    schedulers = [PeriodicScheduler(redis_queue.connection, redis_queue.name, [(JOB, 60)], name=f"s{n}")
                  for n in range(8)]
    barrier = threading.Barrier(len(schedulers))
    results: list[list[str]] = [[] for _ in schedulers]

    def run(index):
        barrier.wait(timeout=30)
        results[index] = schedulers[index].tick(T0)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(schedulers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(len(r) for r in results) == [0] * 7 + [1]
    assert redis_queue.count == 1


def test_when_one_scheduler_dies_the_other_goes_on(redis_queue):
    first, second = two_schedulers(redis_queue, [(JOB, 60)])
    assert first.tick(T0) != []
    # `first` is gone; `second` enqueues the next slots on its own, with no lock to wait out
    assert second.tick(T0 + timedelta(minutes=1)) != []
    assert second.tick(T0 + timedelta(minutes=2)) != []
    assert redis_queue.count == 3


def test_the_beat_says_when_the_scheduler_last_ran(redis_queue):
    assert read_beat(redis_queue.connection, redis_queue.name) is None
    scheduler, _ = two_schedulers(redis_queue, [(JOB, 60)])
    scheduler.tick(T0)
    beat = read_beat(redis_queue.connection, redis_queue.name)
    assert beat.at == T0 and beat.pid == os.getpid()
    assert beat.is_alive(T0 + timedelta(seconds=59))
    assert not beat.is_alive(T0 + timedelta(minutes=5))


def test_the_scheduler_runs_in_a_thread_until_stopped(redis_queue):
    scheduler = PeriodicScheduler(redis_queue.connection, redis_queue.name, [(JOB, 3600)])
    thread = threading.Thread(target=scheduler.run)
    thread.start()
    try:
        for _ in range(100):
            if redis_queue.count:
                break
            threading.Event().wait(0.05)
    finally:
        scheduler.stop()
        thread.join(10)
    assert not thread.is_alive() and redis_queue.count == 1


def test_every_job_of_the_schedule_is_enqueued_by_its_dotted_name(redis_queue):
    [scheduler, _] = two_schedulers(redis_queue, SCHEDULE)  # a typo in SCHEDULE fails here
    scheduler.tick(T0)
    assert sorted(job.func_name for job in redis_queue.get_jobs()) == sorted(name for name, _ in SCHEDULE)


def test_a_misspelled_job_fails_when_the_scheduler_starts(redis_queue):
    with pytest.raises(AttributeError):
        PeriodicScheduler(redis_queue.connection, redis_queue.name, [("psa.jobs.tasks.no_such_job", 60)])
