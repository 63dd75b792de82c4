"""The one place a ban changes state, by concern:

    validation      every check before anything is saved
    bans            the moderators' actions: kick, ban, mute, lift, change, retry
    queue           handing work to the workers, interactive before bulk (Redis may be down:
                    nothing raises)
    vendor_calls    one vendor call: client, requests, send, and what the answer means
    claims          which worker sends a ban now
    applying        the workers' kicks and bans: claim, call, record the answer
    vendor_sync     the vendor's own ban kept in step: lifts, changes, renewals
    enforcement     room callbacks, re-kicks, the presence sweep
    streams         ZEGO's mutes stream by stream, and streams started while muted
    expiry          ending bans on time
    reconciliation  what Redis lost or never got, queued again
    records         the log entries and cache refreshes every change writes

Every state change writes its log entry in the same transaction and refreshes the ban check's
cache (`bancheck`) once it has committed. The admin, the commands, the callbacks and the jobs
use the names below.
"""

from .applying import apply
from .bans import (
    PreparedAction,
    ban,
    change,
    kick,
    lift,
    mute,
    prepare_ban,
    prepare_kick,
    prepare_mute,
    retry,
    room_for,
)
from .claims import release_dead_claims
from .enforcement import receive_room_event, rekick
from .expiry import EXPIRE_BATCH, expire_due
from .queue import INTERACTIVE_QUEUE, QUEUE, dispatch
from .reconciliation import reconcile
from .streams import stop_new_stream
from .validation import (
    MAX_BAN_SECONDS,
    PERMANENT,
    clean_media,
    clean_reason,
    clean_room_id,
    clean_seconds,
    clean_user_ids,
    effective_seconds,
)
from .vendor_calls import capabilities, test_connection, vendor_client
from .vendor_sync import reapply, sync

__all__ = [
    "EXPIRE_BATCH",
    "INTERACTIVE_QUEUE",
    "MAX_BAN_SECONDS",
    "PERMANENT",
    "QUEUE",
    "PreparedAction",
    "apply",
    "ban",
    "capabilities",
    "change",
    "clean_media",
    "clean_reason",
    "clean_room_id",
    "clean_seconds",
    "clean_user_ids",
    "dispatch",
    "effective_seconds",
    "expire_due",
    "kick",
    "lift",
    "mute",
    "prepare_ban",
    "prepare_kick",
    "prepare_mute",
    "reapply",
    "receive_room_event",
    "reconcile",
    "rekick",
    "release_dead_claims",
    "retry",
    "room_for",
    "stop_new_stream",
    "sync",
    "test_connection",
    "vendor_client",
]
