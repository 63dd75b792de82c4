"""Sentences kept as a template and its values, so each viewer reads them in their own language.

What the vendors answered and what the system did is stored twice: the English sentence
(`str(text)`: logs, the CSV export, search) and the template with its values (`as_json()`), which
pages render with `translated()` in the viewer's language. Templates are str.format strings whose
values may be Texts themselves ("{label} accepted: {summary}."); rows stored before this have only
the English sentence, and pages show that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext, gettext_noop

# Every template marked N_ (the catalog must translate each; tests/test_translations.py checks).
TEMPLATES: set[str] = set()


def N_(template: str) -> str:
    """Marks a template for the catalog without translating it where it is written."""
    TEMPLATES.add(template)
    return gettext_noop(template)


@dataclass(frozen=True)
class Text:
    template: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self._render(lambda template: template, str)

    def translated(self) -> str:
        return self._render(gettext, lambda value: value.translated())

    def _render(self, translate, inner) -> str:
        values = {k: inner(v) if isinstance(v, Text) else v for k, v in self.params.items()}
        try:
            return translate(self.template).format(**values)
        except (KeyError, IndexError, ValueError):
            # A translation that lost a placeholder must not hide the message.
            return self.template.format(**values)

    def redacted(self, secret: str) -> Text:
        """The same Text with `secret` taken out of every value."""

        def clean(value):
            if isinstance(value, Text):
                return value.redacted(secret)
            return value.replace(secret, "[redacted]") if isinstance(value, str) else value

        return Text(self.template, {k: clean(v) for k, v in self.params.items()})

    def as_json(self) -> dict:
        return {
            "t": self.template,
            "p": {k: v.as_json() if isinstance(v, Text) else v for k, v in self.params.items()},
        }

    @classmethod
    def from_json(cls, data) -> Text | None:
        """The Text stored by `as_json`, or None for anything else (an older row, a hand edit)."""
        if not isinstance(data, dict) or not isinstance(data.get("t"), str):
            return None
        params = data.get("p") if isinstance(data.get("p"), dict) else {}
        return cls(
            data["t"],
            {k: cls.from_json(v) or v if isinstance(v, dict) else v for k, v in params.items()},
        )


def shown(stored, fallback: str) -> str:
    """A stored Text in the viewer's language, else the stored English sentence."""
    text = Text.from_json(stored)
    if text is None:
        return fallback
    try:
        return text.translated()
    except (KeyError, IndexError, ValueError):  # values that do not fit the template
        return fallback
