"""The Simplified Chinese catalog: complete, compiled, and faithful to its placeholders."""

import re
from pathlib import Path

import polib
import pytest
from django.utils import translation
from django.utils.translation import gettext

from moderation.models import Ban

LC_MESSAGES = Path(__file__).resolve().parent.parent / "moderation/locale/zh_Hans/LC_MESSAGES"
PO_PATH = LC_MESSAGES / "django.po"
MO_PATH = LC_MESSAGES / "django.mo"

# %(name)s, %(count)d, %(id)r ...; and {...} as in {{ var }} or a JSON example such as
# {"BanRoomUser": 40}. A bare % (as in "100%") is not a placeholder.
PLACEHOLDER = re.compile(r"%\([^)]+\)[#0\- +]*\d*(?:\.\d+)?[sdifrxXeEgGc]|\{[^{}]*\}")


@pytest.fixture(scope="module")
def po():
    return polib.pofile(str(PO_PATH))


def _entries(catalog):
    return [entry for entry in catalog if entry.msgid and not entry.obsolete]


def _translations(catalog):
    """msgid (or msgid + msgid_plural) -> its msgstr (or plural msgstrs in form order)."""
    mapping = {}
    for entry in _entries(catalog):
        if entry.msgid_plural:
            key = (entry.msgctxt, entry.msgid, entry.msgid_plural)
            mapping[key] = tuple(entry.msgstr_plural[n] for n in sorted(entry.msgstr_plural))
        else:
            mapping[(entry.msgctxt, entry.msgid, None)] = entry.msgstr
    return mapping


def _msgstrs(entry):
    if entry.msgid_plural:
        return [entry.msgstr_plural[n] for n in sorted(entry.msgstr_plural)]
    return [entry.msgstr]


def test_header_declares_one_plural_form(po):
    assert po.metadata["Plural-Forms"].replace(" ", "") == "nplurals=1;plural=0;"
    assert not po.metadata_is_fuzzy


def test_every_entry_is_translated_and_none_is_fuzzy(po):
    entries = _entries(po)
    assert entries, "the catalog is empty"
    untranslated = [e.msgid for e in entries if not all(s.strip() for s in _msgstrs(e))]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert untranslated == []
    assert fuzzy == []


def test_plural_entries_have_exactly_one_form(po):
    wrong = [e.msgid for e in _entries(po) if e.msgid_plural and sorted(e.msgstr_plural) != [0]]
    assert wrong == []


def test_compiled_catalog_matches_the_po(po):
    assert MO_PATH.exists(), "run: cd moderation && django-admin compilemessages -l zh_Hans"
    mo = polib.mofile(str(MO_PATH))
    assert _translations(mo) == _translations(po), (
        "django.mo is stale: run cd moderation && django-admin compilemessages -l zh_Hans"
    )


def test_every_translation_keeps_the_placeholders_of_its_msgid(po):
    wrong = []
    for entry in _entries(po):
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        expected = set().union(*(PLACEHOLDER.findall(s) for s in sources))
        for msgstr in _msgstrs(entry):
            if set(PLACEHOLDER.findall(msgstr)) != expected:
                wrong.append((entry.msgid, msgstr))
    assert wrong == []


def test_fixed_strings_render_in_chinese():
    with translation.override("zh-hans"):
        assert gettext("Kick or ban") == "踢出或封禁"
        assert gettext("Yes, ban") == "确认封禁"
        assert gettext("Lift") == "解封"
        assert gettext("Export these rows (CSV)") == "导出这些记录（CSV）"
        assert str(Ban.Status.ACTIVE.label) == "生效中"
        assert Ban(status=Ban.Status.ACTIVE).get_status_display() == "生效中"
    with translation.override("en"):
        assert Ban(status=Ban.Status.ACTIVE).get_status_display() == "active"
