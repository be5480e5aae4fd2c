"""The API docs pages: an index and one page per model, with working snippets
and each contract's example answers."""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from playground import catalog
from playground.catalog.openapi import field_doc
from playground.contracts.examples import contract_examples
from playground.contracts.snippets import KEY_VARIABLE, all_snippets, labelled, sdk_snippets
from playground.contracts.wire import request_base_url


def as_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@login_required
def docs_index(request):
    base_url = request_base_url(request)
    return render(
        request,
        "docs/index.html",
        {
            "specs": catalog.all_specs(),
            "base_url": base_url,
            "key_variable": KEY_VARIABLE,
            "sdk_snippets": labelled(sdk_snippets(base_url)),
        },
    )


@login_required
def model_docs(request, model: str):
    try:
        spec = catalog.get_spec(model)
    except catalog.UnknownModel:
        raise Http404(f"No model {model}") from None
    example = spec.examples[0].input if spec.examples else {}
    base_url = request_base_url(request)
    examples = [
        {
            "example": contract,
            "request": as_json(contract.request),
            "request_id": f"example-{contract.name}-request",
            "created": as_json(contract.created),
            "created_id": f"example-{contract.name}-create",
            "finished": as_json(contract.finished),
            "finished_id": f"example-{contract.name}-status",
        }
        for contract in contract_examples(spec, base_url)
    ]
    return render(
        request,
        "docs/model.html",
        {
            "spec": spec,
            "base_url": base_url,
            "key_variable": KEY_VARIABLE,
            "snippets": labelled(all_snippets(base_url, spec.id, example)),
            "fields": [field_doc(spec, field) for field in spec.fields],
            "examples": examples,
        },
    )
