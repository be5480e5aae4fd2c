"""The OpenAPI 3.1 document: JSON Schema per model, derived from the same specs."""

import json

import pytest

from playground import catalog
from playground.api import openapi
from playground.contracts import jobs
from playground.contracts.jobs import ERROR_CODES

SPECS = catalog.all_specs()


@pytest.fixture(scope="module")
def document() -> dict:
    return openapi.document("https://reelgate.example/")


@pytest.fixture(scope="module")
def schemas(document) -> dict:
    return document["components"]["schemas"]


def test_it_is_an_openapi_3_1_document_of_plain_json(document):
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "https://reelgate.example"}]
    assert json.loads(json.dumps(document)) == document
    assert document["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"


def test_it_has_one_input_and_one_request_schema_per_model(schemas):
    for spec in SPECS:
        name = spec.id.replace("/", ".")
        assert schemas[f"Input.{name}"]["properties"].keys() == set(spec.field_names)
        request = schemas[f"CreateTask.{name}"]
        assert request["properties"]["model"]["enum"] == list(spec.names)
        assert request["properties"]["input"] == {"$ref": f"#/components/schemas/Input.{name}"}
        assert request["required"] == ["model", "input"]


def test_it_offers_one_of_the_models_discriminated_by_model(schemas):
    request = schemas["CreateTaskRequest"]
    assert len(request["oneOf"]) == len(SPECS)
    mapping = request["discriminator"]["mapping"]
    assert request["discriminator"]["propertyName"] == "model"
    assert mapping["kling-video/kling-v2-6"] == "#/components/schemas/CreateTask.kling-v2-6"
    assert mapping["kwaivgi/kling-v2.1"] == "#/components/schemas/CreateTask.kling-2-1"
    assert set(mapping) == {name for spec in SPECS for name in spec.names}


def test_it_derives_each_field_schema_from_the_spec(schemas):
    standard = schemas["Input.kling.v2-1-standard"]
    assert standard["required"] == ["prompt", "image_url"]
    assert standard["additionalProperties"] is False
    prompt = standard["properties"]["prompt"]
    assert (prompt["type"], prompt["maxLength"]) == ("string", 5000)
    assert standard["properties"]["negative_prompt"]["maxLength"] == 500
    duration = standard["properties"]["duration"]
    assert (duration["enum"], duration["default"]) == (["5", "10"], "5")
    cfg = standard["properties"]["cfg_scale"]
    assert (cfg["type"], cfg["minimum"], cfg["maximum"], cfg["default"]) == ("number", 0, 1, 0.5)
    assert "in steps of 0.1" in cfg["description"]
    image = standard["properties"]["image_url"]
    assert image["format"] == "uri"
    assert "image/jpeg, image/png, image/webp" in image["description"]
    assert "10 MB" in image["description"]

    v3 = schemas["Input.kling-v3"]["properties"]["duration"]
    assert (v3["type"], v3["minimum"], v3["maximum"], v3["multipleOf"]) == ("integer", 3, 15, 1)
    assert schemas["Input.google.veo-3-1"]["properties"]["duration"]["enum"] == [5, 8]
    assert schemas["Input.kling.v2-1"]["properties"]["generate_audio"]["type"] == "boolean"
    images = schemas["Input.kling-2-1"]["properties"]["image_urls"]
    assert (images["type"], images["maxItems"], images["items"]["format"]) == ("array", 2, "uri")
    assert (
        "Recommended: 0.3-0.7"
        in schemas["Input.kling-2-1"]["properties"]["cfg_scale"]["description"]
    )
    assert schemas["Input.kling-motion-control"]["properties"]["motion_video"]["format"] == "uri"


def test_it_states_the_cross_field_rules_as_if_then(schemas):
    assert schemas["Input.kling-v2-6"]["allOf"][0] == {
        "if": {"not": {"required": ["image"]}},
        "then": {"properties": {"prompt": {"pattern": "\\S"}}, "required": ["prompt"]},
        "description": "A prompt is needed when no image is given (text-to-video).",
    }


IMAGE_MODES = ["standard-image-to-video", "pro-image-to-video", "master-image-to-video"]


def test_it_states_when_a_field_applies_as_if_then_else(schemas):
    kling21 = schemas["Input.kling-2-1"]
    # Required only where it applies: in the if/then, not at the top.
    assert kling21["required"] == ["mode", "prompt"]
    images, end_frame = kling21["allOf"]
    assert images["if"] == {"properties": {"mode": {"enum": IMAGE_MODES}}, "required": ["mode"]}
    assert images["then"] == {"required": ["image_urls"]}
    assert images["else"] == {"not": {"required": ["image_urls"]}}
    assert end_frame["if"] == {
        "properties": {"mode": {"const": "pro-image-to-video"}},
        "required": ["mode"],
    }
    assert end_frame["else"] == {"properties": {"image_urls": {"maxItems": 1}}}
    assert (
        "End frame (image 2) only when mode is pro-image-to-video."
        in (kling21["properties"]["image_urls"]["description"])
    )

    sound, voice = schemas["Input.kling-v2-6"]["allOf"][1:]
    pro = {"properties": {"mode": {"const": "pro"}}, "required": ["mode"]}
    assert sound["if"] == pro
    # A switch that does not apply may still be sent as its default, false.
    assert sound["else"] == {"properties": {"sound": {"const": False}}}
    assert voice["if"] == {
        "allOf": [pro, {"properties": {"sound": {"const": True}}, "required": ["sound"]}]
    }
    assert voice["else"] == {"properties": {"voice": {"const": False}}}
    assert voice["description"] == "voice applies only when mode is pro and audio is on."


def test_it_embeds_the_seed_examples(document, schemas):
    seed_000 = {
        "prompt": "Cinematic aerial shot over coastal cliffs at golden hour, slow camera drift,"
        " atmospheric haze, film grain.",
        "aspect_ratio": "16:9",
        "duration": 5,
        "resolution": "720p",
        "generate_audio": True,
    }
    assert schemas["Input.kling.v2-1"]["examples"] == [seed_000]
    examples = document["paths"]["/api/v1/jobs/createTask"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    assert examples["kling/v2-1"]["value"] == {"model": "kling/v2-1", "input": seed_000}
    assert examples["kling-v2-6"]["value"]["input"]["duration"] == "5"
    assert len(examples) == sum(len(spec.examples) for spec in SPECS)


def test_it_documents_the_envelope_and_every_error_code(document):
    components = document["components"]
    assert set(ERROR_CODES) == {400, 401, 402, 404, 413, 422, 429, 455, 500, 501, 505}
    for code in ERROR_CODES:
        response = components["responses"][f"Error{code}"]
        example = response["content"]["application/json"]["example"]
        assert example["code"] == code
    envelope = components["schemas"]["ApiResponse"]
    assert set(envelope["properties"]) == {"code", "msg", "data"}
    create = document["paths"]["/api/v1/jobs/createTask"]["post"]["responses"]
    record = document["paths"]["/api/v1/jobs/recordInfo"]["get"]["responses"]
    referenced = {int(code) for code in {**create, **record} if code != "200"}
    assert referenced == set(ERROR_CODES)
    assert create["422"] == {"$ref": "#/components/responses/Error422"}


def test_it_describes_record_info(document):
    operation = document["paths"]["/api/v1/jobs/recordInfo"]["get"]
    assert operation["parameters"] == [{"$ref": "#/components/parameters/TaskId"}]
    record = document["components"]["schemas"]["RecordInfo"]
    assert record["properties"]["state"]["enum"] == [
        "waiting",
        "queuing",
        "generating",
        "success",
        "fail",
    ]
    assert record["properties"]["param"]["type"] == "string"


def test_it_lets_other_contracts_add_paths():
    extra = {
        "/api/v1/video/generations": {
            "post": {
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": jobs.envelope_schema({"type": "object"})}
                        },
                    },
                    **jobs.error_responses(401, 402),
                }
            }
        }
    }
    document = openapi.document(paths=extra)
    assert document["servers"] == [{"url": "/"}]
    assert "/api/v1/jobs/createTask" in document["paths"]
    assert document["paths"]["/api/v1/video/generations"] == extra["/api/v1/video/generations"]
    # Each call builds a fresh document: a caller's additions stay its own.
    document["paths"]["/x"] = {}
    assert "/x" not in openapi.document()["paths"]


def test_it_gives_components_on_their_own():
    components = openapi.components()
    assert {"schemas", "responses", "parameters", "securitySchemes"} <= set(components)
