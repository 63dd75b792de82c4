"""Stored sentences (moderation/messages.py) read in each viewer's language; old rows still show."""

import re
import string

import pytest
from django.urls import reverse
from django.utils import translation

from moderation import messages, services
from moderation.messages import Text, shown
from moderation.models import Ban, ModerationLog
from moderation.vendors import base, tencent, volcengine, zego


def vendor_templates():
    found = set()
    for module in (zego, tencent, volcengine):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, base.VendorClient):
                found |= {template for _retryable, template in value.ERRORS.values()}
    # The shorter form used when the vendor gave no message of its own.
    found |= {
        t.removesuffix(": {vendor_message}") + "."
        for t in found
        if t.endswith(": {vendor_message}")
    }
    return found


def fields(template):
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("template", sorted(messages.TEMPLATES | vendor_templates()))
def test_every_stored_sentence_has_a_chinese_form_with_the_same_values(template):
    with translation.override("zh-hans"):
        chinese = translation.gettext(template)

    assert chinese != template
    assert fields(chinese) == fields(template)


def test_a_nested_text_reads_in_english_and_in_chinese():
    text = Text(
        base.ACCEPTED,
        {"label": "ZEGO", "summary": Text(base.KICK_SUMMARY, {"users": "a, b", "room": "r1"})},
    )

    assert str(text) == "ZEGO accepted: kick a, b from room r1."
    with translation.override("zh-hans"):
        assert text.translated() == "ZEGO 已受理：将 a, b 踢出房间 r1。"
    assert Text.from_json(text.as_json()) == text


def test_a_value_that_looks_like_a_template_is_not_formatted():
    text = Text(
        base.REFUSED_WITH_CODE,
        {"label": "ZEGO", "action": "X", "code": "1", "vendor_message": "{label} {0} %(x)s"},
    )

    assert str(text).endswith(": {label} {0} %(x)s")


def test_rows_stored_before_texts_show_their_english():
    assert shown({}, "ZEGO accepted: kick a.") == "ZEGO accepted: kick a."
    assert shown({"t": 5}, "kept") == "kept"
    assert shown({"t": "{missing}", "p": {}}, "kept") == "kept"


@pytest.mark.django_db
def test_a_vendors_answer_reads_in_the_viewers_language_and_the_export_keeps_english(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1001")
    (ban,) = services.kick(app=app, room=room, user_ids=["troll"], reason="spam", actor=moderator)
    services.apply(ban_ids=[ban.pk])
    ban.refresh_from_db()
    client.force_login(moderator)

    chinese = client.get(
        reverse("admin:moderation_ban_change", args=[ban.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()
    english = client.get(reverse("admin:moderation_ban_change", args=[ban.pk])).content.decode()
    export = b"".join(client.get(reverse("admin:moderation_ban_export")).streaming_content)

    assert ban.vendor_message == "ZEGO accepted: kick troll from room live-1001."
    assert "ZEGO 已受理：将 troll 踢出房间 live-1001。" in chinese
    assert "ZEGO accepted: kick troll from room live-1001." in english
    assert "ZEGO accepted: kick troll from room live-1001." in export.decode("utf-8-sig")
    (applied,) = ModerationLog.objects.filter(ban=ban, event="applied")
    assert applied.details["text"]["t"] == base.ACCEPTED
    assert not re.search(r"已受理", Ban.objects.get(pk=ban.pk).vendor_message)
