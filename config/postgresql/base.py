"""Django's PostgreSQL backend, with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django checks a reused connection before the first
query of each request, so a connection the server has closed (a restart, a
failover, an idle timeout) is replaced instead of failing that request.
Django checks by sending `SELECT 1`: one more round trip on every request,
about a seventh of a web worker's time under recordInfo load
(bench/README.md).

A server that ends a connection says so on the socket: it sends an error
message, then closes it. Between requests a healthy connection has nothing
to read (we never LISTEN, so no notification arrives unasked). So a quiet
socket passes at no cost, and only when something is waiting does Django's
own check ask the server. A connection lost without a word (a cut cable)
passes and fails its next query, as it would with no check at all; Django
then closes it at the end of that request.
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        try:
            poller = select.poll()
            poller.register(self.connection.fileno(), select.POLLIN)
            quiet = not poller.poll(0)
        except (OSError, ValueError, base.Database.Error):
            return False
        # Something arrived unasked: an end of file, or a message to read first.
        return quiet or super().is_usable()
