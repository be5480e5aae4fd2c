"""Code that calls the jobs contract, printed on the docs pages and in the
playground. Each snippet runs as printed, with the key in REELGATE_API_KEY."""

import json
import pprint
from typing import Any

from playground.catalog import ModelSpec
from playground.catalog.values import Invalid, coerce, is_blank
from playground.models import Generation

KEY_VARIABLE = "REELGATE_API_KEY"
# How the pages title each snippet.
LABELS = {
    "curl": "curl",
    "python": "Python (httpx)",
    "javascript": "JavaScript (fetch)",
    "openai": "Python (openai)",
    "replicate": "Python (replicate)",
}
# The prompt of a call copied before one is typed: a request that runs.
PROMPT_PLACEHOLDER = "A short description of the video"


def draft_input(spec: ModelSpec, values: dict[str, Any]) -> dict[str, Any]:
    """The input a snippet sends for a form that does not validate yet.

    Each value is typed as the API takes it (10, not "10"; true, not "on"),
    as validate() would return it; one it refuses stays as given, for the
    reader to see what is wrong. Defaults are filled in, and a blank prompt
    becomes a placeholder.
    """
    shown: dict[str, Any] = {}
    for field in spec.fields:
        value = values.get(field.name)
        if is_blank(value):
            if field.name == spec.render.prompt.field:
                shown[field.name] = PROMPT_PLACEHOLDER
            elif field.default is not None:
                shown[field.name] = field.default
            continue
        try:
            shown[field.name] = coerce(field, value)
        except Invalid:
            shown[field.name] = value
    return shown


def _body(model: str, input: dict) -> str:
    return json.dumps({"model": model, "input": input}, indent=2, ensure_ascii=False)


def _python_body(model: str, input: dict) -> str:
    # A Python literal, not JSON: True/False/None where JSON has true/false/null.
    return pprint.pformat({"model": model, "input": input}, sort_dicts=False, width=88)


def curl(base_url: str, model: str, input: dict) -> str:
    body = _body(model, input).replace("'", "'\\''")  # safe inside single quotes
    return (
        f'curl -X POST "{base_url}/api/v1/jobs/createTask" \\\n'
        f'  -H "Authorization: Bearer ${KEY_VARIABLE}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{body}'\n"
        "\n"
        "# Then poll with the taskId it returned until state is success or fail:\n"
        f'curl "{base_url}/api/v1/jobs/recordInfo?taskId=TASK_ID" \\\n'
        f'  -H "Authorization: Bearer ${KEY_VARIABLE}"\n'
    )


def python(base_url: str, model: str, input: dict) -> str:
    return f'''import json
import os
import time

import httpx

api = httpx.Client(
    base_url="{base_url}",
    headers={{"Authorization": "Bearer " + os.environ["{KEY_VARIABLE}"]}},
    timeout=30,
)
body = {_python_body(model, input)}
created = api.post("/api/v1/jobs/createTask", json=body).json()
if created["code"] != 200:
    raise SystemExit(created["msg"])
task_id = created["data"]["taskId"]

while True:
    task = api.get("/api/v1/jobs/recordInfo", params={{"taskId": task_id}}).json()["data"]
    if task["state"] in ("success", "fail"):
        break
    time.sleep(2)

if task["state"] == "success":
    print(json.loads(task["resultJson"])["resultUrls"][0])
else:
    print("failed:", task["failCode"], task["failMsg"])
'''


def javascript(base_url: str, model: str, input: dict) -> str:
    return f"""// Node 18+ (save as .mjs) or a browser console on this site.
const base = "{base_url}";
const headers = {{
  Authorization: `Bearer ${{process.env.{KEY_VARIABLE}}}`,
  "Content-Type": "application/json",
}};
const body = {_body(model, input)};

const created = await (
  await fetch(`${{base}}/api/v1/jobs/createTask`, {{ method: "POST", headers, body: JSON.stringify(body) }})
).json();
if (created.code !== 200) throw new Error(created.msg);
const taskId = created.data.taskId;

let task;
do {{
  await new Promise((resolve) => setTimeout(resolve, 2000));
  task = (await (await fetch(`${{base}}/api/v1/jobs/recordInfo?taskId=${{taskId}}`, {{ headers }})).json()).data;
}} while (task.state !== "success" && task.state !== "fail");

console.log(task.state === "success" ? JSON.parse(task.resultJson).resultUrls[0] : `failed: ${{task.failMsg}}`);
"""


def all_snippets(base_url: str, model: str, input: dict) -> dict[str, str]:
    return {
        "curl": curl(base_url, model, input),
        "python": python(base_url, model, input),
        "javascript": javascript(base_url, model, input),
    }


def labelled(codes: dict[str, str], id_prefix: str = "snippet") -> list[dict[str, str]]:
    """Snippets as the pages show them: each with its title and the element id
    its Copy button names."""
    return [
        {"id": f"{id_prefix}-{lang}", "lang": lang, "label": LABELS[lang], "code": code}
        for lang, code in codes.items()
    ]


def generation_call(base_url: str, generation: Generation) -> dict[str, str]:
    """The createTask call that makes this generation again: its model and its
    validated input, which the validator takes back unchanged."""
    return {
        "curl": curl(base_url, generation.model_id, generation.input),
        "python": python(base_url, generation.model_id, generation.input),
    }


def openai_python(base_url: str) -> str:
    """The official `openai` SDK, with only the base URL and the key changed."""
    return f'''import os

from openai import OpenAI

client = OpenAI(base_url="{base_url}/v1", api_key=os.environ["{KEY_VARIABLE}"])
video = client.videos.create_and_poll(
    model="kling/v2-1", prompt="A paper boat on a rainy street", size="854x480", seconds="5"
)
if video.status == "completed":
    client.videos.download_content(video.id).write_to_file("boat.mp4")
    print("saved boat.mp4")
else:
    print("failed:", video.error)
'''


def replicate_python(base_url: str) -> str:
    """The official `replicate` client, with only the base URL and the token changed."""
    return f'''import os

import replicate

client = replicate.Client(api_token=os.environ["{KEY_VARIABLE}"], base_url="{base_url}")
output = client.run(
    "kling/v2-1", input={{"prompt": "A paper boat on a rainy street", "resolution": "480p"}}
)
print(output)
'''


def sdk_snippets(base_url: str) -> dict[str, str]:
    return {"openai": openai_python(base_url), "replicate": replicate_python(base_url)}
