"""The generateTask adapter (/api/v1/generateTask/{model}, /api/v1/statusTask/{model}).

The rules all adapters share are tested in test_jobs_upstream.py for every contract.
"""

from decimal import Decimal

import pytest

from accounts.models import CreditAccount
from playground import services
from playground.models import Generation
from playground.providers.base import Succeeded
from tests.contract import fakes
from tests.contract.fakes import GENERATE_TASK, Step, exchange

pytestmark = pytest.mark.django_db


def test_it_puts_the_upstream_model_in_both_paths(alice, tmp_path):
    done = exchange(alice, GENERATE_TASK, tmp_path, upstream_model="kling-2.1-master")

    assert done.submit.path == "/api/v1/generateTask/kling-2.1-master"
    assert done.submit.header("Authorization") == f"Bearer {fakes.API_KEY}"
    assert done.submit.json() == {"request_type": "async", "input": done.generation.input}
    (poll,) = done.fake.polls
    assert poll.path == "/api/v1/statusTask/kling-2.1-master"
    assert poll.query == {"taskId": [done.generation.upstream_ref]}
    assert done.outcomes == [
        Succeeded(
            video_url=done.fake.url + fakes.VIDEO_PATH,
            poster_url=done.fake.url + fakes.THUMBNAIL_PATH,
            note=f"upstream task {done.generation.upstream_ref}",
        )
    ]


def test_a_model_name_with_a_slash_stays_one_path_segment(alice, tmp_path):
    done = exchange(alice, GENERATE_TASK, tmp_path, upstream_model="kuaishou/kling-2-1")
    assert done.submit.path == "/api/v1/generateTask/kuaishou%2Fkling-2-1"
    assert done.fake.polls[0].path == "/api/v1/statusTask/kuaishou%2Fkling-2-1"


def test_an_upstream_failure_fails_the_generation_with_its_reason_end_to_end(worker, alice):
    with fakes.FakeUpstream(GENERATE_TASK) as fake:
        fake.script(
            Step("running"),
            Step("fail", fail_code="CONTENT_VIOLATION", fail_msg="Content violates safety rules"),
        )
        fake.provider_row(priority=10)
        generation = services.submit(
            user=alice, model=GENERATE_TASK.model, input=GENERATE_TASK.input
        )
        fakes.finish(generation)

    assert (generation.state, generation.fail_code) == (Generation.FAIL, "CONTENT_VIOLATION")
    assert generation.fail_msg == "Content violates safety rules"
    assert generation.charged_credits == Decimal("0.00")
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (Decimal("500.00"), Decimal("0.00"))
    assert len(fake.submits) == 1  # a failure is never resubmitted
