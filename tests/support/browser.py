"""The browser's side of the OAuth dance: the sandbox's consent page, read and submitted as a browser would."""

from __future__ import annotations

import html.parser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx


class ConsentForm(html.parser.HTMLParser):
    """What a browser would submit from the consent page's form: its action and method, its named fields
    (a select's selected option, else its first), and the options and buttons it offers."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method: str | None = None
        self.fields: dict[str, str] = {}
        self.options: list[str] = []
        self.buttons: list[tuple[str, str]] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form" and attributes.get("id") == "consent":
            self.action, self.method = attributes.get("action", ""), attributes.get("method", "")
        elif tag == "input" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value", "")
        elif tag == "select":
            self._select = attributes.get("name")
        elif tag == "option" and self._select:
            self.options.append(attributes.get("value", ""))
            if "selected" in attributes or self._select not in self.fields:
                self.fields[self._select] = attributes.get("value", "")
        elif tag == "button":
            self.buttons.append((attributes.get("name", ""), attributes.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


async def consent(authorization_url: str, *, decision: str = "allow", **choices: str) -> dict[str, str]:
    """Open the consent page like a browser, submit the form, and return the redirect's query."""
    async with httpx.AsyncClient(timeout=5, follow_redirects=False) as browser:
        page = await browser.get(authorization_url)
        assert page.status_code == 200, page.text
        form = ConsentForm()
        form.feed(page.text)
        assert form.action is not None, "no consent form on the page"
        fields = {**form.fields, **choices, "decision": decision}
        answer = await browser.post(urljoin(str(page.url), form.action), data=fields)
    assert answer.status_code in (302, 303), answer.text
    location = answer.headers["Location"]
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
