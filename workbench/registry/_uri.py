"""Model URIs: how a user names one model version.

Accepted forms (``models:/`` is optional, for MLflow users)::

    churn                 the latest version of model "churn"
    churn/3               version 3
    churn/latest          the latest version, spelled out
    churn@champion        the version the alias "champion" points at
    models:/churn/3       the same, MLflow style
    models:/churn@champion
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.exceptions import InvalidParameterError

__all__ = ["ModelRef", "check_alias", "check_model_name", "parse_model_uri"]

MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,249}$")
ALIAS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,99}$")
RESERVED_ALIASES = frozenset({"latest"})
SCHEME = "models:/"
ACCEPTED_FORMS = (
    "'name' (latest version), 'name/3', 'name/latest', 'name@alias', "
    "or the same after 'models:/' (e.g. 'models:/name@champion')"
)


@dataclass(frozen=True)
class ModelRef:
    """A parsed model URI: a name plus at most one of a version number and an alias."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name if self.version is None else f"{self.name}/{self.version}"


def check_model_name(name: object, caller: str, *, parameter: str = "name") -> str:
    """A model name: letters, digits, ``_ . -``; starts with a letter or digit; at most 250."""
    if isinstance(name, str) and MODEL_NAME_RE.match(name):
        return name
    shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
    raise InvalidParameterError(
        f"The {parameter!r} parameter of {caller} must be a model name made of letters, digits "
        f"and _ . - (starting with a letter or digit, at most 250 characters). Got {shown} "
        "instead. '/' and '@' are not allowed: they separate the version and the alias in "
        "model URIs such as 'churn/3' and 'churn@champion'."
    )


def check_alias(alias: object, caller: str) -> str:
    """An alias: starts with a letter; letters, digits, ``_ -``; not the reserved 'latest'."""
    if isinstance(alias, str) and ALIAS_RE.match(alias) and alias not in RESERVED_ALIASES:
        return alias
    why = (
        "'latest' always means the newest version and cannot be set"
        if alias in RESERVED_ALIASES
        else "e.g. 'champion' or 'challenger'"
    )
    raise InvalidParameterError(
        f"The 'alias' parameter of {caller} must start with a letter and contain only letters, "
        f"digits, _ and - (at most 100 characters). Got {alias!r} instead; {why}."
    )


def parse_model_uri(uri: object, caller: str = "get_model_version") -> ModelRef:
    """Parse a model URI into a :class:`ModelRef`, or say which forms are accepted.

    Examples
    --------
    >>> parse_model_uri("churn@champion")
    ModelRef(name='churn', version=None, alias='champion')
    >>> parse_model_uri("models:/churn/3")
    ModelRef(name='churn', version=3, alias=None)
    """
    if not isinstance(uri, str) or not uri.strip():
        raise _bad(uri, caller)
    text = uri.strip()
    if text.startswith(SCHEME):
        text = text[len(SCHEME) :]
    name, version, alias = text, None, None
    if "@" in text:
        name, _, alias = text.partition("@")
        if alias == "latest":
            alias = None
        elif not ALIAS_RE.match(alias):
            raise _bad(uri, caller)
    elif "/" in text:
        name, _, number = text.partition("/")
        if number != "latest":
            if not re.fullmatch(r"[0-9]{1,9}", number) or int(number) < 1:
                raise _bad(uri, caller, "Versions are whole numbers from 1.")
            version = int(number)
    if not MODEL_NAME_RE.match(name):
        raise _bad(uri, caller)
    return ModelRef(name, version, alias)


def _bad(uri: object, caller: str, extra: str = "") -> InvalidParameterError:
    shown = repr(uri) if len(repr(uri)) <= 80 else repr(uri)[:77] + "..."
    return InvalidParameterError(
        f"The 'uri' parameter of {caller} must be a model URI: {ACCEPTED_FORMS}. "
        f"Got {shown} instead. {extra}".rstrip()
    )
