"""One generation: its page, the polled status partial, run again and cancel."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import ledger
from accounts.models import CreditAccount
from playground import services
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
    assert "History" in content and "→ <strong>queuing</strong>" in content


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
