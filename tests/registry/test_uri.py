"""Model URIs: every accepted form parses; every other string says which forms are accepted."""

from __future__ import annotations

import pytest

import workbench as wb
from workbench.registry import ModelRef, parse_model_uri
from workbench.registry._uri import check_alias, check_model_name


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("churn", ModelRef("churn")),
        ("churn/3", ModelRef("churn", 3)),
        ("churn/latest", ModelRef("churn")),
        ("churn@champion", ModelRef("churn", alias="champion")),
        ("churn@latest", ModelRef("churn")),
        ("models:/churn/12", ModelRef("churn", 12)),
        ("models:/churn@challenger", ModelRef("churn", alias="challenger")),
        ("models:/churn", ModelRef("churn")),
        ("  my-model.v2_x/1 ", ModelRef("my-model.v2_x", 1)),
    ],
)
def test_accepted_forms(uri: str, expected: ModelRef) -> None:
    assert parse_model_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    ["", "churn/0", "churn/-1", "churn/three", "churn/³", "churn@", "churn@1x", "/3", "@a",
     "churn/3/4", "models:/", "a b", "churn@champ ion", 3, None],
)  # fmt: skip
def test_bad_uris_name_the_accepted_forms(uri: object) -> None:
    with pytest.raises(wb.InvalidParameterError, match=r"'uri' parameter.*'name/3'.*'name@alias'"):
        parse_model_uri(uri)


def test_str_round_trips() -> None:
    for text in ("churn", "churn/3", "churn@champion"):
        assert str(parse_model_uri(text)) == text


def test_names_and_aliases_exclude_uri_delimiters() -> None:
    with pytest.raises(wb.InvalidParameterError, match="'/' and '@' are not allowed"):
        check_model_name("a/b", "register_model")
    with pytest.raises(wb.InvalidParameterError, match="'latest' always means the newest"):
        check_alias("latest", "set_alias")
    with pytest.raises(wb.InvalidParameterError, match="start with a letter"):
        check_alias("3", "set_alias")
    assert check_alias("champion", "set_alias") == "champion"
