"""RQ jobs: load by id, call a service. Nothing else lives here."""

from . import services


def apply_bans(ban_ids: list[int], attempt: int = 1):
    services.apply(ban_ids=ban_ids, attempt=attempt)


def sync_ban(ban_id: int, attempt: int = 1):
    services.sync(ban_id=ban_id, attempt=attempt)


def reapply_ban(ban_id: int):
    services.reapply(ban_id=ban_id)


def rekick_user(
    app_id: int, room_id: str, user_id: str, attempt: int = 1, require_presence: bool = True
):
    return services.rekick(
        app_id=app_id,
        room_id=room_id,
        user_id=user_id,
        attempt=attempt,
        require_presence=require_presence,
    )


def stop_stream(app_id: int, stream_id: str, attempt: int = 1):
    return services.stop_new_stream(app_id=app_id, stream_id=stream_id, attempt=attempt)
