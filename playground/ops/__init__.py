"""What an operator runs Reelgate with: health and readiness, and ids in the logs.

    logs.py        the request id and the generation task id of the work at
                   hand (contextvars), and the logging filter that puts them
                   on every record
    middleware.py  the request id of each request: X-Request-ID, or a new one
    models.py      Heartbeat: when a background process last finished a pass
    health.py      the readiness checks (database, Redis, queue age, sweeper)
    views.py       GET /healthz and GET /readyz, for load balancers

logs.py, models.py and health.py sit low: the sweeper, the tasks and the
poller use them. middleware.py and views.py are HTTP, and nothing below
imports them.
"""
