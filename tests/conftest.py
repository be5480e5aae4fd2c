"""Shared fixtures: three personas, as the rest of the suite expects them.

alice owns a team and has credits, bob is her teammate, carol is an outsider
in a team of her own.
"""

import secrets
import shutil
import socket
import tempfile
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts import apikeys, ledger
from accounts.models import Profile, Team
from accounts.teams import create_member
from playground import queue
from playground.providers import routing
from tests import processes as processes_module
from tests.processes import ManagedProcess, manage, process_env, wait_for

_MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="reelgate-test-media-"))
# The callback retry window of the worker processes (see worker_processes).
CALLBACK_TEST_WINDOW_SECONDS = 10


def pytest_configure(config):
    # Password hashing is deliberately slow; tests create many users.
    django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Result files of this run, shared with the worker processes it starts.
    django_settings.MEDIA_ROOT = _MEDIA_ROOT
    # Short leases and polls so recovery paths run in seconds.
    django_settings.GENERATION_LEASE_SECONDS = 3
    django_settings.REDISPATCH_SECONDS = 5
    django_settings.POLL_FIRST_SECONDS = 0
    django_settings.POLL_MAX_SECONDS = 1
    django_settings.MODERATION_BLOCKED_TERMS = ["forbiddenword"]
    _flush_retrying_deadlocks()


def _flush_retrying_deadlocks() -> None:
    """Transactional tests end with `flush` (TRUNCATE of every table) while the
    session's worker processes may still be writing: PostgreSQL may then
    abort the TRUNCATE as a deadlock victim. Retrying it is the standard
    answer; anything else is raised at once."""
    import time

    from django.core.management.base import CommandError
    from django.core.management.commands import flush

    handle = flush.Command.handle

    def handle_retrying(self, **options):
        for attempt in range(5):
            try:
                return handle(self, **options)
            except CommandError as exc:
                if attempt == 4 or "deadlock" not in str(exc.__cause__).lower():
                    raise
                time.sleep(0.2 * (attempt + 1))

    flush.Command.handle = handle_retrying


def pytest_unconfigure(config):
    shutil.rmtree(_MEDIA_ROOT, ignore_errors=True)
    _remove_session_keys()


def _remove_session_keys() -> None:
    """The Redis keys the code under test made under the session's KEY_PREFIX
    (fixtures remove their own): the API key epoch and the upload cleanup's
    marker. Removing either is harmless for anyone else using that prefix: a
    new epoch makes processes read their keys again, and the cleanup runs."""
    if not django_settings.REDIS_URL:
        return
    from django.core.cache import cache

    from accounts import keycache, redis_client
    from playground import uploads

    try:
        redis_client.get().delete(redis_client.key(keycache.EPOCH))
        cache.delete(uploads.CLEANUP_CACHE_KEY)
    except redis.RedisError:  # Redis gone: nothing more to do
        pass


@pytest.fixture(autouse=True)
def throttles_out_of_the_way(settings):
    """Failed sign-ins and bad API keys from 127.0.0.1 add up over a whole run
    (the counters live in the cache, on Redis shared by the session), so they
    would lock out tests that merely check a 401. The throttles' own tests
    lower these limits and send from addresses of their own."""
    settings.LOGIN_FAILURES_PER_ACCOUNT = 1_000_000
    settings.LOGIN_FAILURES_PER_ADDRESS = 1_000_000
    settings.API_BAD_KEYS_PER_ADDRESS = 1_000_000


@pytest.fixture
def team(db):
    return Team.objects.create(name="Studio")


@pytest.fixture
def alice(team):
    user = create_member(
        "alice", team, password="alice-password", email="alice@example.com", role=Profile.OWNER
    )
    ledger.grant(user.profile.team.wallet, Decimal("500.00"), note="test credits")
    return user


@pytest.fixture
def bob(team):
    # A member whether or not alice, the team's owner, was made first.
    return create_member("bob", team, password="bob-password", role=Profile.MEMBER)


@pytest.fixture
def carol(db):
    user = create_member("carol", Team.objects.create(name="Elsewhere"), password="carol-password")
    ledger.grant(user.profile.team.wallet, Decimal("500.00"), note="test credits")
    return user


@pytest.fixture
def dan(db):
    """dan's team has not been given any credits."""
    return create_member("dan", Team.objects.create(name="Unfunded"), password="dan-password")


@pytest.fixture
def alice_key(alice):
    """alice's API key as the raw secret a client sends."""
    _, secret = apikeys.issue(alice, "test key")
    return secret


@pytest.fixture
def shared_redis(settings):
    """Redis for a test on either leg, under a key prefix of the test's own.

    The configured REDIS_URL, else the one CI runs on 127.0.0.1. Other runs
    may share that server: only this prefix's keys are removed afterwards.
    """
    url = settings.REDIS_URL or "redis://127.0.0.1:6379/0"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {url}: {exc}")
    prefix = f"reelgate-test-{secrets.token_hex(4)}"
    settings.REDIS_URL, settings.KEY_PREFIX = url, prefix
    yield client
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(autouse=True)
def fresh_routing():
    """Each test routes on its own rows: a rolled-back test leaves none behind in
    this process's snapshot of the enabled providers (providers/routing.py)."""
    routing.forget()


@pytest.fixture(autouse=True)
def local_renderer(request):
    """The provider row every model routes to out of the box.

    A migration makes it, but transactional tests flush every table after
    they run, so each database test gets it made again here.
    """
    if not {"db", "transactional_db"} & set(request.fixturenames):
        return None
    request.getfixturevalue("db" if "db" in request.fixturenames else "transactional_db")
    from playground.models import Provider

    provider, _ = Provider.objects.get_or_create(
        name="Local renderer", defaults={"kind": Provider.LOCAL, "priority": 1000}
    )
    return provider


@pytest.fixture(scope="session")
def worker_processes(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real django-q2 cluster, sweeper and poller on the test database, for the session.

    Tests that use them must commit their data: ask for `worker`, which
    brings `transactional_db`.
    """
    logs = tmp_path_factory.mktemp("worker-logs")
    env = process_env(
        ALLOW_PRIVATE_URLS="1",
        MODERATION_BLOCKED_TERMS="forbiddenword",
        # Callbacks keep the real 1/2/4 s quick retries; the background
        # retries (30 s apart over 30 minutes in production) are shrunk so
        # tests see them, and the end of the window, in seconds.
        CALLBACK_RETRY_INTERVALS="1",
        CALLBACK_RETRY_WINDOW_SECONDS=str(CALLBACK_TEST_WINDOW_SECONDS),
    )
    processes = [
        ManagedProcess("qcluster", ["qcluster"], env, logs),
        ManagedProcess("renders", ["qcluster"], queue.render_cluster_env(env), logs),
        ManagedProcess("sweeper", ["sweeper"], env, logs),
        ManagedProcess("poller", ["poller"], env, logs),
    ]
    processes_module.SESSION.extend(processes)
    yield processes
    processes_module.SESSION.clear()
    for process in processes:
        process.stop()


@pytest.fixture
def worker(transactional_db, worker_processes, local_renderer):
    yield worker_processes
    for process in worker_processes:
        assert process.popen.poll() is None, f"{process.name} died:\n{process.log_tail()}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def upstream_reelgate(tmp_path_factory, worker_processes):
    """Another install: its own SQLite database, media, queue, user and key."""
    home = tmp_path_factory.mktemp("upstream-reelgate")
    port = _free_port()
    env = process_env(
        DATABASE_URL=f"sqlite:///{home / 'db.sqlite3'}",
        MEDIA_ROOT=str(home / "media"),
        KEY_PREFIX=f"upstream-{port}",
        RENDER_WORKERS="0",  # its renders share its one cluster
        ALLOW_PRIVATE_URLS="1",
        MODERATION_BLOCKED_TERMS="upstreamblocked",
        DJANGO_SUPERUSER_PASSWORD="upstream-password",
    )
    manage(env, "migrate", "--noinput")
    manage(env, "createsuperuser", "--noinput", "--username", "gateway", "--email", "g@example.com")
    manage(env, "credits", "grant", "gateway", "10000")
    key = manage(env, "apikey", "create", "gateway").strip().splitlines()[-1]
    processes = [
        ManagedProcess("upstream-web", ["runserver", "--noreload", f"127.0.0.1:{port}"], env, home),
        ManagedProcess("upstream-qcluster", ["qcluster"], env, home),
        ManagedProcess("upstream-sweeper", ["sweeper"], env, home),
    ]
    url = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return httpx.get(url + "/api/openapi.json", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout=60, interval=0.3, message="the upstream Reelgate to start")
    yield url, key
    for process in processes:
        process.stop()


@pytest.fixture
def migrated_back(request, transactional_db):
    """The database migrated back to the test module's BEFORE (the app registry of
    then); migrated forward to the latest again afterwards."""
    before = request.module.BEFORE
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    yield executor.loader.project_state(before).apps
    call_command("migrate", verbosity=0)
