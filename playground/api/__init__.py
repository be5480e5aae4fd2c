"""The public JSON API: one module per contract, each parse → core → render.

auth.py        the one decorator: API key, limits, JSON body, errors
errors.py      ApiError and how domain errors become API errors
common.py      timestamps, credits and absolute URLs as the contracts print them
jobs.py        createTask / recordInfo / cancel / credits (seeds 000, 001, 003)
video_generations.py   /video/generations (seed 002)
generate_task.py       /generateTask/{model} + /statusTask/{model} (seed 004)
contracts.py   contract name → module, for callbacks
"""
