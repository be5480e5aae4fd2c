"""One generation: its page, the polled status partial, run again, cancel and delete."""

import html
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import ledger
from accounts.models import CreditAccount
from playground import catalog, lifecycle, services
from playground.models import Generation

PROMPT = "A lighthouse in a storm, waves crashing, cinematic"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def generation(alice):
    return services.submit(
        user=alice,
        model="kling/v2-1",
        input={"prompt": PROMPT, "resolution": "480p"},
        source=Generation.SOURCE_PLAYGROUND,
        contract="playground",
    )


def finish(generation: Generation, **fields) -> None:
    fields.setdefault("completed_at", timezone.now())
    Generation.objects.filter(pk=generation.pk).update(**fields)


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_it_shows_a_running_generation_with_live_progress(signed_in, generation):
    finish(generation, state=Generation.GENERATING, progress=42, completed_at=None)
    response = signed_in.get(f"/generations/{generation.task_id}/")
    content = response.content.decode()
    assert response.status_code == 200
    assert 'hx-trigger="every 1s"' in content
    assert '<progress max="100" value="42"' in content
    assert "55.00 credits held" in content
    assert '<meta http-equiv="refresh"' in content  # without JS the page reloads
    # The logs, as Replicate shows a prediction's: each event, then the progress bar.
    logs = html.unescape(re.search(r'<pre class="log-lines"><code>(.*?)</code>', content, re.S)[1])
    assert "queuing: " + generation.price_breakdown in logs
    assert logs.endswith(" 42/100")
    assert re.search(r'<span class="elapsed">\d+ s since submit</span>', content)
    assert "usually takes" not in content  # no finished generation of the model yet


def test_the_status_partial_keeps_polling_while_unfinished(signed_in, generation):
    response = signed_in.get(f"/generations/{generation.task_id}/status/", **HTMX)
    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith("<article")
    assert 'hx-trigger="every 1s"' in content
    assert "header-balance" not in content  # nothing has settled


def test_the_status_partial_stops_polling_when_finished(signed_in, generation):
    finish(
        generation,
        state=Generation.SUCCESS,
        progress=100,
        video="generations/abc/clip.mp4",
        poster="generations/abc/clip.jpg",
        charged_credits=Decimal("55.00"),
        width=854,
        height=480,
        duration=5.0,
    )
    response = signed_in.get(f"/generations/{generation.task_id}/status/", **HTMX)
    assert response.status_code == 286
    content = response.content.decode()
    assert "every 1s" not in content
    assert '<video class="result-video" controls' in content
    assert 'poster="/media/generations/abc/clip.jpg"' in content
    assert 'src="/media/generations/abc/clip.mp4"' in content
    assert 'href="/media/generations/abc/clip.mp4" download' in content
    assert "55.00 credits charged" in content
    assert "854×480 · 5.0 s" in content


def test_a_settled_generation_brings_the_headers_balance_up_to_date(signed_in, generation):
    header = '<span id="header-balance" class="balance">445.00 credits</span>'
    assert header in signed_in.get("/").content.decode()
    services.cancel(generation)  # the 55 credits it held come back
    response = signed_in.get(f"/generations/{generation.task_id}/status/", **HTMX)
    balance = '<span id="header-balance" class="balance" hx-swap-oob="true">500.00 credits</span>'
    assert balance in response.content.decode()


def test_a_failed_generation_shows_its_reason_and_no_charge(signed_in, generation):
    finish(
        generation,
        state=Generation.FAIL,
        fail_code="CONTENT_VIOLATION",
        fail_msg="The prompt contains a blocked term.",
    )
    response = signed_in.get(f"/generations/{generation.task_id}/status/", **HTMX)
    assert response.status_code == 286
    content = response.content.decode()
    assert "Failed: CONTENT_VIOLATION</strong> · no charge" in content
    assert "The prompt contains a blocked term." in content
    assert "No charge" in content


def test_it_shows_the_parameters_with_their_labels(signed_in, generation):
    content = signed_in.get(f"/generations/{generation.task_id}/").content.decode()
    assert '<th scope="row">Resolution</th><td>480p</td>' in content
    assert '<th scope="row">Duration</th><td>5 s</td>' in content
    assert '<th scope="row">Audio</th><td>off</td>' in content


def test_a_teammate_sees_the_generation(client, bob, generation):
    client.force_login(bob)
    assert client.get(f"/generations/{generation.task_id}/").status_code == 200
    assert client.get(f"/generations/{generation.task_id}/status/").status_code == 200


def test_an_outsider_gets_404(client, carol, generation):
    client.force_login(carol)
    assert client.get(f"/generations/{generation.task_id}/").status_code == 404
    assert client.get(f"/generations/{generation.task_id}/status/", **HTMX).status_code == 404
    assert client.get(f"/models/kling/v2-1/?from={generation.task_id}").status_code == 404


def test_run_again_submits_the_same_input(signed_in, alice, generation):
    response = signed_in.post(f"/generations/{generation.task_id}/run-again/")
    again = Generation.objects.exclude(pk=generation.pk).get()
    assert response["Location"] == f"/generations/{again.task_id}/"
    assert again.input == generation.input
    assert again.remixed_from == generation
    assert (again.source, again.contract) == ("playground", "playground")
    assert CreditAccount.objects.get(team__members__user=alice).held == Decimal("110.00")


def test_run_again_with_too_few_credits_says_so(client, bob, generation):
    wallet = bob.profile.team.wallet
    ledger.hold(wallet, ledger.available(wallet), "spent elsewhere")  # the team's wallet is empty
    client.force_login(bob)
    response = client.post(f"/generations/{generation.task_id}/run-again/", follow=True)
    assert "Not enough credits to run it again" in response.content.decode()
    assert Generation.objects.count() == 1


def test_cancel_fails_it_without_charge(signed_in, alice, generation):
    response = signed_in.post(f"/generations/{generation.task_id}/cancel/", **HTMX)
    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "CANCELLED")
    assert "no charge" in response.content.decode()
    assert CreditAccount.objects.get(team__members__user=alice).held == Decimal("0.00")


def finished_at(owner, seconds: float, *, model="kling/v2-1", state=Generation.SUCCESS):
    """A generation of `owner`'s that took `seconds` from submit to finish."""
    row = Generation.objects.create(
        owner=owner, team_id=owner.profile.team_id, model_id=model, state=state
    )
    created = timezone.now() - timedelta(minutes=5)  # created_at is set on insert: moved after
    finish(row, created_at=created, completed_at=created + timedelta(seconds=seconds))
    return row


def test_a_running_generation_shows_the_median_time_of_the_models_recent_successes(
    signed_in, alice, bob, carol, generation
):
    for seconds in (30, 41, 100):
        finished_at(bob, seconds)  # a teammate's count: the team's history
    finished_at(alice, 5, state=Generation.FAIL)
    finished_at(alice, 7, model="kling-v3")
    finished_at(carol, 2)  # another team's
    content = signed_in.get(f"/generations/{generation.task_id}/status/", **HTMX).content.decode()
    assert '<span class="estimate">usually takes about 41 s</span>' in content


def test_the_estimate_reads_minutes_past_ninety_seconds(signed_in, alice, generation):
    finished_at(alice, 200)
    content = signed_in.get(f"/generations/{generation.task_id}/").content.decode()
    assert "usually takes about 3 min" in content


def test_worker_names_stay_out_of_the_members_view(signed_in, generation):
    claimed = lifecycle.claim(generation.pk, "render-host-7:4242")
    assert claimed is not None
    running = signed_in.get(f"/generations/{generation.task_id}/").content.decode()
    assert "generating: attempt 1" in running
    assert lifecycle.succeed(generation.pk, "render-host-7:4242", video="generations/x/clip.mp4")
    for url in (
        f"/generations/{generation.task_id}/",
        f"/generations/{generation.task_id}/status/",
    ):
        content = signed_in.get(url, **HTMX).content.decode()
        assert "History" in content and "→ <strong>success</strong>" in content
        assert "render-host-7" not in content and "4242" not in content


def test_it_offers_the_team_link_with_a_copy_button(signed_in, generation):
    content = signed_in.get(f"/generations/{generation.task_id}/").content.decode()
    link = f"http://testserver/generations/{generation.task_id}/"
    share = f'id="share-url-{generation.task_id}" class="share-url" href="{link}">{link}</a>'
    assert share in content
    assert f'data-copy="share-url-{generation.task_id}">Copy</button>' in content
    assert '<script src="/static/js/copy.js" defer></script>' in content


def api_call(content: str) -> dict[str, str]:
    blocks = re.findall(
        r'<pre id="api-call-(\w+)" class="api-call-code" data-lang="\w+"><code>(.*?)</code></pre>',
        content,
        re.S,
    )
    return {lang: html.unescape(code) for lang, code in blocks}


def test_copy_as_api_call_makes_the_same_generation_through_the_api(
    client, signed_in, alice_key, generation
):
    content = signed_in.get(f"/generations/{generation.task_id}/").content.decode()
    calls = api_call(content)
    assert set(calls) == {"curl", "python"}
    assert 'curl -X POST "http://testserver/api/v1/jobs/createTask"' in calls["curl"]
    assert '-H "Authorization: Bearer $REELGATE_API_KEY"' in calls["curl"]
    assert 'os.environ["REELGATE_API_KEY"]' in calls["python"]
    assert 'api.post("/api/v1/jobs/createTask", json=body)' in calls["python"]
    body = json.loads(re.search(r"-d '(.*?)'\n", calls["curl"], re.S)[1])
    assert body == {"model": "kling/v2-1", "input": generation.input}
    client.logout()
    created = client.post(
        "/api/v1/jobs/createTask",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {alice_key}",
    ).json()
    again = Generation.objects.get(task_id=created["data"]["taskId"])
    assert (again.model_id, again.input) == (generation.model_id, generation.input)
    assert catalog.validate(generation.model_id, generation.input) == generation.input


def test_its_actions_are_buttons_of_one_style(signed_in, generation):
    running = signed_in.get(f"/generations/{generation.task_id}/").content.decode()
    actions = running.split('<div class="actions">')[1].split("</div>")[0]
    assert '<button type="submit" class="secondary">Run again</button>' in actions
    assert '<a class="button secondary" href="/models/kling/v2-1/?from=' in actions
    assert '<button type="submit" class="secondary">Cancel</button>' in actions
    assert '<summary class="button secondary">Copy as API call</summary>' in actions
    assert "link danger" not in running and "Delete</button>" not in actions
    finish(generation, state=Generation.SUCCESS, video="generations/abc/clip.mp4")
    done = signed_in.get(f"/generations/{generation.task_id}/").content.decode()
    actions = done.split('<div class="actions">')[1].split("</div>")[0]
    assert '<a class="button secondary" href="/media/generations/abc/clip.mp4" download>' in actions
    assert '<button type="submit" class="secondary">Delete</button>' in actions
    assert "Cancel</button>" not in actions


def test_delete_removes_a_finished_generation_and_keeps_its_record(client, bob, generation):
    finish(generation, state=Generation.SUCCESS, charged_credits=Decimal("55.00"))
    client.force_login(bob)  # a teammate may delete it, as in the gallery
    response = client.post(f"/generations/{generation.task_id}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == "/gallery/"
    assert f"Deleted {generation.task_id}." in response.content.decode()
    generation.refresh_from_db()
    assert generation.deleted_at is not None
    assert generation.charged_credits == Decimal("55.00")
    page = client.get(f"/generations/{generation.task_id}/").content.decode()
    assert "Delete</button>" not in page and "Deleted on" in page


def test_delete_from_htmx_sends_the_browser_to_the_gallery(signed_in, generation):
    finish(generation, state=Generation.FAIL, fail_code="TIMEOUT")
    response = signed_in.post(f"/generations/{generation.task_id}/delete/", **HTMX)
    assert response["HX-Redirect"] == "/gallery/"


def test_an_unfinished_generation_is_not_deleted(signed_in, generation):
    response = signed_in.post(f"/generations/{generation.task_id}/delete/", follow=True)
    assert "Not deleted: only a finished generation" in response.content.decode()
    generation.refresh_from_db()
    assert (generation.deleted_at, generation.state) == (None, Generation.QUEUING)


def test_an_outsider_cannot_delete(client, carol, generation):
    finish(generation, state=Generation.SUCCESS)
    client.force_login(carol)
    assert client.post(f"/generations/{generation.task_id}/delete/").status_code == 404
    generation.refresh_from_db()
    assert generation.deleted_at is None
