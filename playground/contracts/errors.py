"""ApiError: an answer other than success. Each contract renders it in its own envelope."""


class ApiError(Exception):
    """An answer other than success: HTTP status, a message for a person,
    optional field errors and a machine code for contracts that have one."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: dict[str, list[str]] | None = None,
        code: str | None = None,
        retry_after: int | None = None,
        param: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.code = code
        self.retry_after = retry_after
        self.param = param


def field_errors(errors: dict[str, list[str]], prefix: str = "") -> ApiError:
    summary = "; ".join(f"{prefix}{field}: {' '.join(msgs)}" for field, msgs in errors.items())
    named = {f"{prefix}{field}": msgs for field, msgs in errors.items()}
    first = next(iter(named), None)
    return ApiError(422, summary, errors=named, code="invalid_request", param=first)
