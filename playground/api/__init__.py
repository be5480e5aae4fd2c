"""The public JSON API: the views of each contract (playground/contracts/ holds the wire).

Each view is parse (contracts) → service → render (contracts):

auth.py        the one decorator: API key, limits, JSON body, errors
errors.py      how domain errors and Django's request limits become ApiErrors
submit.py      the one hand-off of a create call to services.submit
lookup.py      the one team-scoped lookup of a generation by task id
jobs.py  video_generations.py  generate_task.py  uploads.py   the Kie-style contracts
openai_videos.py               /v1/videos (the `openai` SDK)
replicate_predictions.py  replicate_files.py                  /v1/predictions, /v1/files
openapi.py     the OpenAPI document, assembled from the contracts' paths
docs.py        the API docs pages
"""
