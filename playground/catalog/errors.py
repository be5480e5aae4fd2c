"""Exceptions of the catalog: bad input from a client, bad spec from an operator."""

from django.core.exceptions import ImproperlyConfigured


class ValidationFailed(Exception):
    """The input does not fit the model's spec.

    `errors` maps a field name (or "input" / "model" for the request as a
    whole) to messages written for the person who sent it; the API returns
    them as they are with code 422.
    """

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(
            "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        )


class UnknownModel(ValidationFailed):
    """No model has this id or alias. The message lists the closest ids."""

    def __init__(self, name: str, message: str):
        self.name = name
        super().__init__({"model": [message]})
        self.args = (message,)


class SpecError(ImproperlyConfigured):
    """One problem in one spec file, named by file and field path."""

    def __init__(self, file: str, field: str, message: str):
        self.file = file
        self.field = field
        self.message = message
        super().__init__(f"{file}: {field}: {message}" if field else f"{file}: {message}")


class SpecErrors(ImproperlyConfigured):
    """Every problem found while loading a catalog directory."""

    def __init__(self, errors: list[SpecError]):
        self.errors = errors
        super().__init__("Malformed model specs:\n" + "\n".join(f"  {e}" for e in errors))
