"""The PostgreSQL health check (config/postgresql/): a connection the server
closed is replaced before a request uses it; a healthy one is kept."""

import select

import psycopg
import pytest
from django.db import ProgrammingError, connection

from tests.processes import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backend only"),
]


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def admin_connection() -> psycopg.Connection:
    """A connection of our own to the test database, beside Django's."""
    params = connection.get_connection_params()
    return psycopg.connect(
        dbname=params["dbname"],
        host=params.get("host") or None,
        port=params.get("port") or None,
        user=params.get("user") or None,
        password=params.get("password") or None,
        autocommit=True,
    )


def terminate(pid: int) -> None:
    """End a server process, as a restart would."""
    with admin_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def new_request() -> None:
    """What Django does when a request starts (request_started)."""
    connection.close_if_unusable_or_obsolete()


def test_a_healthy_connection_is_kept_from_request_to_request():
    first = backend_pid()
    assert connection.is_usable()
    new_request()
    assert backend_pid() == first


def test_a_connection_the_server_closed_is_replaced_before_the_next_query():
    first = backend_pid()
    terminate(first)
    wait_for(lambda: not connection.is_usable(), timeout=10, message="the closed socket")

    new_request()
    assert backend_pid() != first  # no error: a new connection answered


def test_a_failed_query_leaves_the_connection_usable():
    first = backend_pid()
    with pytest.raises(ProgrammingError), connection.cursor() as cursor:
        cursor.execute("SELECT no_such_column FROM no_such_table")
    assert connection.is_usable()
    new_request()
    assert backend_pid() == first


def test_a_message_waiting_on_a_healthy_connection_does_not_replace_it():
    first = backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("LISTEN reelgate_health_probe")
    with admin_connection() as admin:
        admin.execute("NOTIFY reelgate_health_probe")
    # Something to read now sits on the socket; the server still answers.
    wait_for(
        lambda: bool(select.select([connection.connection.fileno()], [], [], 0)[0]),
        timeout=10,
        message="the notification on the socket",
    )
    assert connection.is_usable()
    new_request()
    assert backend_pid() == first
    with connection.cursor() as cursor:
        cursor.execute("UNLISTEN reelgate_health_probe")
