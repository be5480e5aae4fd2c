"""What an operator runs Reelgate with: health and readiness, ids in the logs, metrics.

    logs.py        the request id and the generation task id of the work at
                   hand (contextvars), and the logging filter that puts them
                   on every record
    middleware.py  the request id of each request: X-Request-ID, or a new one;
                   every request counted and timed
    models.py      Heartbeat: when a background process last finished a pass
    health.py      the readiness checks (database, Redis, queue age, sweeper)
    metrics.py     the Prometheus counters, counted where events happen, and
                   the directory where every process writes them
    scrape.py      what GET /metrics answers: every process's counters and
                   gauges read from the database
    views.py       GET /healthz and GET /readyz, for load balancers; GET
                   /metrics, for Prometheus

logs.py, models.py, health.py, metrics.py and scrape.py sit low: the
lifecycle, the sweeper, the tasks and the poller use them. middleware.py and
views.py are HTTP, and nothing below imports them.
"""
