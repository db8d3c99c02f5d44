"""E-mail templates: Jinja2, sandboxed, HTML autoescaped, one set per language, overridable per team.

Built-in templates live in bot/mail/templates/<lang>/. With HOTLOOP_MAIL_TEMPLATES_DIR set, a template is
looked up first as <dir>/<team>/<lang>/<name>, then <dir>/<lang>/<name>, then the built-in one, and
English last. Every e-mail is three templates: `<name>.subject.j2`, `<name>.txt.j2`, `<name>.html.j2`
(only the last is escaped: customer text in it can never become markup).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.mail.language import DEFAULT

BUILT_IN = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def team_folder(name: str) -> str:
    """A team's folder name in the override directory: lower case, [a-z0-9_-] only."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.casefold()).strip("-") or "team"


class MailTemplates:
    def __init__(self, override_dir: str = "") -> None:
        loaders: list[BaseLoader] = [FileSystemLoader(override_dir)] if override_dir else []
        loaders.append(FileSystemLoader(BUILT_IN))
        self.env = ImmutableSandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False,
                                         default=False),
            undefined=StrictUndefined,  # a misspelt variable fails the render, never sends a gap
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def _render(self, file: str, *, language: str, for_team: str | None, variables: dict[str, Any]) -> str:
        names = [f"{language}/{file}", f"{DEFAULT}/{file}"]
        if for_team:
            names.insert(0, f"{team_folder(for_team)}/{language}/{file}")
        return self.env.select_template(names).render(language=language, **variables)

    def render(self, name: str, *, language: str, for_team: str | None = None, **variables: Any) -> Rendered:
        """The three parts of e-mail `name` (e.g. "ack") in `language`, from `for_team`'s folder first."""
        def part(suffix: str) -> str:
            return self._render(f"{name}.{suffix}", language=language, for_team=for_team, variables=variables)

        subject = " ".join(part("subject.j2").split())
        return Rendered(subject=subject, text=part("txt.j2"), html=part("html.j2"))

    def page(self, name: str, *, language: str, **variables: Any) -> str:
        """A small HTML page of hotloop's own (the unsubscribe confirmation), escaped like the e-mails."""
        return self._render(f"{name}.html.j2", language=language, for_team=None, variables=variables)
