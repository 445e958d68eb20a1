"""The configuration's one error type, and its per-field form."""


class ConfigError(ValueError):
    """A configuration problem; the message names the field and the fix. Several problems are one error:
    ``problems`` lists them (each its own line in the loader's report), the message joins them."""

    def __init__(self, *problems: str) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(problems))


class FieldErrors(ConfigError):
    """Problems of one config object's fields as (field, message) pairs: whoever built it from a config
    block prefixes each field with its path (``methods.aioli.eta: must be > 0, got 0``)."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        super().__init__(*(f"{name}: {message}" for name, message in fields))
        self.fields = list(fields)
