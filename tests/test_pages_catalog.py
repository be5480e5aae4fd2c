"""The home page: the catalog as cards, with a search that works with and without JS."""

import pytest

from playground import catalog


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_it_shows_every_model_as_a_card(signed_in):
    content = signed_in.get("/").content.decode()
    for spec in catalog.all_specs():
        assert spec.title in content
        assert f'href="/models/{spec.id}/"' in content
    assert "from 55 credits" in content  # kling/v2-1, a flat price
    assert "from 1.59 credits" in content  # kling-v2-6's cheapest row
    assert "Motion control" in content and "Image to video" in content
    assert "up to 30 s" in content and "end frame" in content and ">audio<" in content


def test_it_filters_cards_with_a_plain_get(signed_in):
    content = signed_in.get("/?q=motion").content.decode()
    assert "Kling Motion Control" in content
    assert "Veo 3.1" not in content
    assert 'value="motion"' in content  # the box keeps the query


def test_it_matches_every_word_of_the_query(signed_in):
    content = signed_in.get("/?q=google+audio").content.decode()
    assert "Veo 3.1" in content
    assert "Kling" not in content.split('id="model-cards"')[1]


def test_it_says_so_when_nothing_matches(signed_in):
    content = signed_in.get("/?q=sora").content.decode()
    assert "No models match “sora”" in content


def test_it_answers_htmx_searches_with_the_cards_alone(signed_in):
    response = signed_in.get("/?q=veo", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="model-cards")
    content = response.content.decode()
    assert content.strip().startswith('<section id="model-cards"')
    assert "<html" not in content
    assert "Veo 3.1" in content
