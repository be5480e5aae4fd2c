"""The API docs pages: an index and one page per model, with working snippets."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from playground import catalog
from playground.contracts.snippets import KEY_VARIABLE, all_snippets, sdk_snippets
from playground.contracts.wire import request_base_url


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
            "sdk_snippets": sdk_snippets(base_url),
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
    return render(
        request,
        "docs/model.html",
        {
            "spec": spec,
            "base_url": base_url,
            "key_variable": KEY_VARIABLE,
            "snippets": all_snippets(base_url, spec.id, example),
            "fields": spec.fields,
        },
    )
