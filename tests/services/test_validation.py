"""Checks before anything is saved (services.validation)."""

import pytest
from django.core.exceptions import ValidationError

from moderation import services
from moderation.models import Ban

pytestmark = pytest.mark.django_db(transaction=True)


def test_input_errors_name_the_field_and_save_nothing(emulated_app, moderator):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-7")
    cases = [
        (dict(user_ids=" , ", seconds=60, reason="x"), "user_ids"),
        (dict(user_ids="u1", seconds=0, reason="x"), "duration"),
        (dict(user_ids="u1", seconds=1.5, reason="x"), "duration"),
        (dict(user_ids="u1", seconds=60, reason="  "), "reason"),
        (dict(user_ids="u1", seconds=60, reason="原因" * 50), "reason"),  # over 256 bytes on ZEGO
        (dict(user_ids="bad\x00id", seconds=60, reason="x"), "user_ids"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as caught:
            services.ban(
                app=app, scope=Ban.Scope.USER_IN_ROOM, room=room, actor=moderator, **kwargs
            )
        assert field in caught.value.message_dict, (kwargs, caught.value)
    assert not Ban.objects.exists()


def test_user_ids_may_be_separated_by_chinese_commas_too():
    assert services.clean_user_ids("u1，u2、u3, u4\nu1") == ["u1", "u2", "u3", "u4"]
