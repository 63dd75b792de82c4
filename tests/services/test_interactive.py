"""Interactive before bulk: a moderator's action on a few users takes the interactive queue and
overtakes a bulk action queued before it; what is queued again later keeps to its action's queue."""

import time
from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from moderation import health, liveness, services
from moderation.clock import Clock
from moderation.models import Ban
from moderation.services.queue import running_from
from moderation.vendors import Delivery, RoomEvent

from ..support.bans import final
from ..support.workers import start_interactive_worker, start_worker, stop_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

INTERACTIVE, BULK = "moderation-interactive", "moderation"


def jobs(connection, name, func="apply_bans"):
    """The args of the jobs waiting in queue `name` that call `func`."""
    queue = django_rq.get_queue(name, connection=connection)
    return [job.args for job in queue.get_jobs() if job.func_name.endswith(func)]


def scheduled(connection, name):
    queue = django_rq.get_queue(name, connection=connection)
    return [queue.fetch_job(job_id).args for job_id in queue.scheduled_job_registry.get_job_ids()]


def empty_queues(connection):
    for name in (INTERACTIVE, BULK):
        django_rq.get_queue(name, connection=connection).empty()


def users(count, prefix="u"):
    return [f"{prefix}{n}" for n in range(count)]


def test_an_action_on_up_to_interactive_max_users_takes_the_interactive_queue_and_a_larger_one_the_bulk_queue(  # noqa: E501
    emulated_app, redis_connection, settings
):
    settings.INTERACTIVE_MAX_USERS = 3
    app = emulated_app("tencent")
    room = services.room_for(app=app, room_id="8080")

    few = services.kick(app=app, room=room, user_ids=users(3), reason="spam", actor=None)
    many = services.kick(app=app, room=room, user_ids=users(4, "v"), reason="raid", actor=None)

    assert jobs(redis_connection, INTERACTIVE) == [([b.pk for b in few],)]
    assert jobs(redis_connection, BULK) == [([b.pk for b in many],)]


def test_a_moderators_retry_of_a_failed_ban_takes_the_interactive_queue(
    emulated_app, redis_connection, settings
):
    settings.INTERACTIVE_MAX_USERS = 3
    app = emulated_app("tencent")
    room = services.room_for(app=app, room_id="8080")
    bans = services.kick(app=app, room=room, user_ids=users(20), reason="raid", actor=None)
    Ban.objects.filter(pk=bans[0].pk).update(status=Ban.Status.FAILED)
    empty_queues(redis_connection)

    services.retry(ban=bans[0], actor=None)

    assert jobs(redis_connection, INTERACTIVE) == [([bans[0].pk],)]
    assert jobs(redis_connection, BULK) == []


@pytest.mark.parametrize("queue", [INTERACTIVE, BULK])
def test_a_job_retried_after_a_back_off_is_scheduled_on_the_queue_it_came_from(
    queue, emulated_app, emulator, redis_connection
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1")
    (kick,) = services.kick(app=app, room=room, user_ids=["u1"], reason="spam", actor=None)
    empty_queues(redis_connection)
    emulator.fail_next(vendor="zego", count=1, mode="5xx")

    with running_from(queue):  # as the worker runs a job taken from `queue`
        services.apply(ban_ids=[kick.pk])

    other = BULK if queue == INTERACTIVE else INTERACTIVE
    assert scheduled(redis_connection, queue) == [([kick.pk], 2)]
    assert scheduled(redis_connection, other) == []


def test_reconcile_dispatches_a_bulk_actions_pending_bans_as_bulk_and_a_few_users_action_as_interactive(  # noqa: E501
    emulated_app, redis_connection, settings
):
    settings.INTERACTIVE_MAX_USERS = 3
    settings.BANS_PER_JOB = 100
    app = emulated_app("tencent")
    room = services.room_for(app=app, room_id="8080")
    raid = services.kick(app=app, room=room, user_ids=users(50), reason="raid", actor=None)
    (troll,) = services.kick(app=app, room=room, user_ids=["troll"], reason="spam", actor=None)
    # Redis lost every job: the bans are pending, and undispatched past the grace.
    empty_queues(redis_connection)
    long_ago = timezone.now() - timedelta(seconds=settings.DISPATCH_GRACE_SECONDS + 5)
    Ban.objects.update(dispatched_at=None, created_at=long_ago)

    done = services.reconcile()

    assert done["dispatched"] == 51
    assert jobs(redis_connection, INTERACTIVE) == [([troll.pk],)]
    assert [sorted(ids) for (ids,) in jobs(redis_connection, BULK)] == [[b.pk for b in raid]]


@pytest.mark.parametrize(("action_users", "queue"), [(1, INTERACTIVE), (4, BULK)])
def test_a_banned_users_entry_is_rekicked_on_the_queue_of_the_action_that_banned_them(
    action_users, queue, emulated_app, redis_connection, settings
):
    settings.INTERACTIVE_MAX_USERS = 3
    app = emulated_app("tencent")
    room = services.room_for(app=app, room_id="8080")
    bans = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=room,
        user_ids=["troll", *users(action_users - 1)],
        seconds=3600,
        reason="abuse",
        actor=None,
    )
    services.apply(ban_ids=[b.pk for b in bans])
    assert {b.status for b in final(bans)} == {Ban.Status.ACTIVE}
    empty_queues(redis_connection)

    entry = RoomEvent(
        kind=RoomEvent.JOIN,
        room_id="8080",
        user_id="troll",
        at_ms=int(time.time() * 1000),
        delivery_key="entry-1",
        vendor_event="103",
    )
    services.receive_room_event(app=app, delivery=Delivery(event=entry, sent_at=time.time()))

    other = BULK if queue == INTERACTIVE else INTERACTIVE
    assert jobs(redis_connection, queue, "rekick_user") == [(app.pk, "8080", "troll", 1, True)]
    assert jobs(redis_connection, other, "rekick_user") == []


def test_the_clock_moves_a_due_retry_of_an_interactive_job_onto_the_interactive_queue(
    redis_connection,
):
    queue = django_rq.get_queue(INTERACTIVE, connection=redis_connection)
    queue.enqueue_at(timezone.now() - timedelta(seconds=1), "moderation.jobs.apply_bans", [1], 2)

    Clock("clock-under-test").tick()

    assert jobs(redis_connection, INTERACTIVE) == [([1], 2)]
    assert scheduled(redis_connection, INTERACTIVE) == []


def test_the_interactive_worker_holds_a_worker_lease_that_healthz_counts(redis_connection):
    process = start_interactive_worker()
    try:
        wait_until(lambda: liveness.alive("worker") == 1, timeout=30, message="its lease")
        assert health.check_workers(redis_connection) == {"ok": True, "alive": 1}
    finally:
        print(stop_worker(process))
    wait_until(lambda: liveness.alive("worker") == 0, timeout=15, message="its lease gone")


# --- Against the emulator's rate limit, with real workers --------------------------------------

BULK_USERS, USERS_PER_CALL, LIMIT = 200, 10, 5  # 20 RemoveUser calls at 5 a second: ~4 s


@pytest.fixture
def slow_tencent_app(emulated_app, emulator):
    """A Tencent app whose RemoveUser the emulator (and our limiter) allow 5 times a second."""
    app = emulated_app("tencent", rate_limits={"RemoveUser": LIMIT})
    known = {
        "vendor": "tencent",
        "app_id": app.vendor_app_id,
        "access_key_id": app.access_key_id,
        "secret": app.secret,
    }
    emulator.add_app(**known, rate_limits={"RemoveUser": LIMIT})
    yield app
    emulator.add_app(**known)  # the emulator lives for the session: its own limits again


@pytest.mark.parametrize("interactive_worker", [True, False], ids=["with-its-worker", "without"])
def test_a_single_kick_made_after_a_queued_bulk_kick_reaches_the_vendor_before_the_bulks_last_call(  # noqa: E501
    interactive_worker, slow_tencent_app, emulator, redis_connection, settings
):
    """With the Procfile's interactive worker, or with only the worker that serves both queues
    (it takes the single kick's job before the bulk's next): the bulk still completes, and the
    emulator throttles nothing."""
    settings.BANS_PER_JOB = USERS_PER_CALL  # 20 jobs of one call each, queued before the kick
    app = slow_tencent_app
    crowd, urgent = users(BULK_USERS, "raider"), "troll"
    for room_id, user in [("8080", u) for u in crowd] + [("9090", urgent)]:
        emulator.join(vendor="tencent", app_id=app.vendor_app_id, room_id=room_id, user_id=user)
    processes = [start_worker()]
    if interactive_worker:
        processes.append(start_interactive_worker())
    try:
        wait_until(lambda: liveness.alive("worker") == len(processes), timeout=30)
        bulk = services.kick(
            app=app,
            room=services.room_for(app=app, room_id="8080"),
            user_ids=crowd,
            reason="raid",
            actor=None,
        )
        wait_until(lambda: emulator.calls, message="the bulk's first call")
        (single,) = services.kick(
            app=app,
            room=services.room_for(app=app, room_id="9090"),
            user_ids=[urgent],
            reason="spam",
            actor=None,
        )
        settled = final([*bulk, single], timeout=60)
    finally:
        for process in processes:
            print(stop_worker(process)[-3000:])

    assert {b.status for b in settled} == {Ban.Status.DONE}
    order = [str(call.params["RoomId"]) for call in emulator.calls]
    assert order.count("8080") == BULK_USERS // USERS_PER_CALL
    assert order.count("9090") == 1
    assert order.index("9090") < len(order) - 1 - order[::-1].index("8080")
    assert emulator.throttled == 0
