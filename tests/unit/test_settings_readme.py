"""README.md's "Configuration reference (environment)" table against the settings table (gql_api.settings.VARIABLES).

How the README is read: the section's Markdown table, one row per line. Its first column names one or more
variables, each in backticks (`HOST`, `PORT`). Its second column gives their defaults: where every one of a
row's variables has a plain default in the settings table (text, a number or a flag; not None, not an empty
list), the column holds one value in backticks per variable, in the same order, and each value, read the
way the environment would be read, must give that default (so `10` matches 10.0 and `true` matches True).
Defaults that are absent (None, an empty list) are described in prose ("unset: dev auth") and not compared.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gql_api.settings import VARIABLES, ConfigError, Variable

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Configuration reference (environment)"
BY_NAME = {variable.name: variable for variable in VARIABLES}


def readme_rows() -> list[tuple[list[str], list[str]]]:
    """(variable names, backticked defaults) per row of the README's configuration table."""
    text = README.read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines() if line.strip().startswith("|")]
    rows = []
    for line in lines[2:]:  # after the header and the |---| line
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append((re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0]), re.findall(r"`([^`]*)`", cells[1])))
    return rows


def is_plain(default: object) -> bool:
    return isinstance(default, (str, int, float, bool))


def test_the_readme_table_is_found():
    # given README.md
    # when its configuration table is read
    rows = readme_rows()

    # then it has rows, each naming at least one variable
    assert len(rows) > 10 and all(names for names, _ in rows)


def test_every_variable_in_the_settings_table_is_documented_in_the_readme():
    # given the variables the settings table reads
    # when the README's table is read
    documented = [name for names, _ in readme_rows() for name in names]

    # then each is documented, once
    assert sorted(set(BY_NAME) - set(documented)) == []
    assert sorted({name for name in documented if documented.count(name) > 1}) == []


def test_every_variable_in_the_readme_is_read_by_the_settings():
    # given the variables the README documents
    documented = {name for names, _ in readme_rows() for name in names}

    # when they are looked up in the settings table
    unknown = documented - set(BY_NAME)

    # then none is missing from it
    assert sorted(unknown) == []


def readme_default_problems(names: list[str], shown: list[str]) -> list[str]:
    variables: list[Variable] = [BY_NAME[name] for name in names if name in BY_NAME]
    if not any(is_plain(variable.default) for variable in variables):
        return []
    if len(shown) != len(names):
        return [f"{', '.join(names)}: the README shows {shown}, one default in backticks per variable expected"]
    problems = []
    for variable, value in zip(variables, shown, strict=True):
        try:
            read = variable.kind.parse(variable.name, value)
        except ConfigError as error:
            read = error
        if is_plain(variable.default) and read != variable.default:
            problems.append(f"{variable.name}: the README says `{value}`, the settings {variable.default!r}")
    return problems


@pytest.mark.parametrize(("names", "shown"), readme_rows(), ids=lambda value: ",".join(value))
def test_the_readme_default_is_the_settings_default(names, shown):
    # given one row of the README's table and the settings' defaults of its variables
    # when the defaults it shows are read as the environment would be
    problems = readme_default_problems(names, shown)

    # then they are the settings' defaults
    assert problems == []


def test_a_wrong_readme_default_would_be_noticed():
    # given README rows that disagree with the settings table
    # when they are compared
    # then each disagreement is reported
    assert readme_default_problems(["WORKER_POLL_SECONDS"], ["5"]) != []
    assert readme_default_problems(["HOST", "PORT"], ["127.0.0.1"]) != []
    assert readme_default_problems(["GRAPHQL_INTROSPECTION"], []) != []
    assert readme_default_problems(["PORT"], ["unset"]) != []
    assert readme_default_problems(["WORKER_IN_PROCESS"], ["true"]) == []
