"""Cronofy's 422 `errors` map, shared by the request parsers.

`{field: [{"key": "errors.xxx", "description": "..."}]}`, empty when all is well (reference/cronofy.md §8.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Errors = dict[str, list[dict[str, str]]]


@dataclass
class Problems:
    errors: Errors = field(default_factory=dict)

    def add(self, name: str, key: str, description: str) -> None:
        self.errors.setdefault(name, []).append({"key": f"errors.{key}", "description": description})


def malformed_body_errors() -> Errors:
    problems = Problems()
    problems.add("request", "invalid_request", "the body must be a JSON object")
    return problems.errors
