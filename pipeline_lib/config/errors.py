"""The configuration's one error type."""


class ConfigError(ValueError):
    """A configuration problem; the message names the field and the fix."""
