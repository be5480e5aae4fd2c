"""The browser pages: one module per page, each with its views.

catalog      the home page: model cards with search
playground   a model's form, live validation and price, submit
generations  one generation: detail page, status partial, run again, cancel
gallery      the team gallery with filters and keyset pagination
account      credits, ledger history, API keys
uploads      image and video uploads for the playground's URL fields
"""
