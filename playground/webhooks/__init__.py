"""Delivery of task callbacks and account webhook events: one module serves both.

    generation finishes ──> notify.generation_finished ──> events.generation_finished
        one Delivery per target: the task's callback URL (kind "callback", the
        contract's own callback body) and each enabled endpoint of the owner
        subscribed to video.completed / video.failed (kind "event")
    generation starts (first claim) ──> notify.generation_started ──> events.generation_started
        the start callback, for contracts that send one (Replicate's `start` webhook)
    delivery.deliver(id, attempt_count)    django-q2 task, after commit
        claim (conditional UPDATE: pending, same attempt count, no live lease)
        POST the stored body, signed (signing.py), through playground.outbound
        quick retries inline (CALLBACK_QUICK_RETRIES, 1 s / 2 s / 4 s)
        then background retries (CALLBACK_RETRY_INTERVALS), dispatched by the
        sweeper (delivery.dispatch_due), until a 2xx or the end of the window
        (CALLBACK_RETRY_WINDOW_SECONDS after the first attempt)

Every attempt is a DeliveryAttempt row. Delivery is at least once: a worker
that dies between a receiver's 2xx and recording it sends again later. The
`webhook-id` header is the same on every attempt of a delivery, so
receivers dedupe on it.

Modules: models (WebhookEndpoint, Delivery, DeliveryAttempt), signing (the
headers, no Django), events (what gets delivered), delivery (sending and
retries), views/urls/forms (the account page's webhooks panel), admin.
"""
