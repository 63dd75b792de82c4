"""A loopback HTTP server that speaks Volcengine's, ZEGO's and Tencent's moderation APIs.

For tests and local runs without vendor accounts: `Emulator()` in-process, or
`manage.py vendor_emulator` for other processes (driven through the /_emulator/ control API).
It keeps everything in memory and never touches the database.
"""

from .callbacks import CallbackRecord
from .core import App, Call, Emulator, Fault

__all__ = ["App", "Call", "CallbackRecord", "Emulator", "Fault"]
