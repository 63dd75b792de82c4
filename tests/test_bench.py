"""`manage.py bench` runs end to end at tiny sizes and durations, so that it cannot rot unnoticed.

The benchmarks run --in-place: in the test database and Redis, with real RQ workers, gunicorn
and the vendor emulator, as in a full run.
"""

import json
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from bench import bans_list, click, expiry, history, interactive, room, throughput
from moderation.models import ApiToken, Ban, ModerationLog, Presence, Room, VendorApp, VendorCall

pytestmark = pytest.mark.django_db(transaction=True)

LINE = re.compile(r"(\w+): ([0-9.]+) (.+) \(target .+\)")
EVERY_FIGURE = [
    "throughput_users_per_s_zego",
    "throughput_ratio_zego",
    "throughput_users_per_s_tencent",
    "throughput_ratio_tencent",
    "throughput_users_per_s_volcengine",
    "throughput_ratio_volcengine",
    "throttled_calls",
    "throughput_stranded_bans",
    "click_to_vendor_p50_ms",
    "click_to_vendor_p99_ms",
    "interactive_during_bulk_p50_s",
    "interactive_during_bulk_p99_s",
    "interactive_bulk_throughput_ratio",
    "interactive_throttled_calls",
    "expiry_lag_p50_s",
    "expiry_lag_p99_s",
    "history_list_p50_ms_1m",
    "history_list_p95_ms_1m",
    "history_filter_p50_ms_1m",
    "history_filter_p95_ms_1m",
    "history_search_p50_ms_1m",
    "history_search_p95_ms_1m",
    "csv_first_byte_ms_1m",
    "csv_first_byte_p95_ms_1m",
    "history_list_p50_ms_10k",
    "history_filter_p50_ms_10k",
    "history_search_p50_ms_10k",
    "csv_first_byte_ms_10k",
    "history_scale_ratio",
    "history_queries",
    "history_filter_queries",
    "history_search_queries",
    "csv_queries",
    "bans_list_csv_100k_peak_rss_mb",
    "bans_list_csv_100k_seconds",
    "bans_list_csv_10k_peak_rss_mb",
    "room_page_p50_ms_5k",
    "room_page_p95_ms_5k",
    "room_members_p50_ms_5k",
    "room_members_filter_p50_ms_5k",
    "room_members_later_page_p50_ms_5k",
    "room_page_queries",
    "room_members_queries",
    "bancheck_max_rps",
    "bancheck_noop_max_rps",
    "bancheck_efficiency",
    "bancheck_p50_ms_at_500rps",
    "bancheck_p99_ms_at_500rps",
    "bancheck_p50_ms_at_1000rps",
    "bancheck_p99_ms_at_1000rps",
    "worker_peak_rss_mb",
    "web_peak_rss_mb",
]


@pytest.fixture
def tiny(monkeypatch):
    """Sizes that still go through every step: workers, web, emulator, timers, exports."""
    monkeypatch.setattr(
        throughput,
        "PLANS",
        [
            throughput.Plan("zego", 12, 5, 50, "bench-live"),
            throughput.Plan("tencent", 12, 10, 20, "8080"),
            throughput.Plan("volcengine", 3, 1, 20, "bench-lobby"),
        ],
    )
    monkeypatch.setattr(click, "SAMPLES", 3)
    monkeypatch.setattr(click, "REST_SECONDS", 0.05)
    monkeypatch.setattr(interactive, "BULK_USERS", 30)
    monkeypatch.setattr(interactive, "SINGLES", 2)
    monkeypatch.setattr(interactive, "FIRST_SINGLE_SECONDS", 0.05)
    monkeypatch.setattr(expiry, "BANS", 4)
    monkeypatch.setattr(expiry, "ACTIONS", 2)
    monkeypatch.setattr(expiry, "FIRST_SECONDS", 1)
    monkeypatch.setattr(history, "SAMPLES", 2)
    monkeypatch.setattr(history, "MIN_SAMPLES", 1)
    monkeypatch.setattr(history, "ROOMS_PER_APP", 3)
    monkeypatch.setattr(bans_list, "SMALL", 10)
    monkeypatch.setattr(bans_list, "BANS", 30)
    monkeypatch.setattr(room, "FEW", 10)
    monkeypatch.setattr(room, "MEMBERS", 250)


def test_every_benchmark_prints_its_figures_and_leaves_nothing_behind(
    tmp_path, redis_connection, tiny
):
    output = tmp_path / "latest.json"
    out = StringIO()

    call_command(
        "bench",
        in_place=True,
        duration=0.3,
        bans=50,
        output=output,
        stdout=out,
        stderr=StringIO(),
    )

    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == EVERY_FIGURE
    for line in lines:
        assert LINE.fullmatch(line), line
    figures = json.loads(output.read_text())
    assert set(figures) == set(EVERY_FIGURE)
    assert figures["throttled_calls"] == 0
    assert figures["throughput_stranded_bans"] == 0
    for vendor in ("zego", "tencent", "volcengine"):
        assert figures[f"throughput_users_per_s_{vendor}"] > 0
    assert 0 < figures["click_to_vendor_p50_ms"] <= figures["click_to_vendor_p99_ms"]
    assert 0 < figures["interactive_during_bulk_p50_s"] <= figures["interactive_during_bulk_p99_s"]
    assert figures["interactive_bulk_throughput_ratio"] > 0
    assert figures["interactive_throttled_calls"] == 0
    assert 0 <= figures["expiry_lag_p50_s"] <= figures["expiry_lag_p99_s"] < 30
    assert figures["history_list_p50_ms_1m"] > 0
    assert figures["csv_queries"] > 0
    assert figures["bans_list_csv_100k_peak_rss_mb"] > 10
    assert figures["bans_list_csv_100k_seconds"] > 0
    assert figures["history_queries"] > 0
    assert 0 < figures["room_page_p50_ms_5k"] <= figures["room_page_p95_ms_5k"]
    assert figures["room_page_queries"] > 0
    assert figures["worker_peak_rss_mb"] > 10
    assert figures["web_peak_rss_mb"] > 10
    # Everything the benchmarks made is gone: apps, bans and what hangs off them, users.
    for model in (VendorApp, Room, Ban, ModerationLog, VendorCall, ApiToken, Presence):
        assert not model.objects.exists(), model
    assert not get_user_model().objects.filter(username__startswith="bench-").exists()


def test_the_ban_check_benchmark_prints_its_figures_and_merges_them(tmp_path, redis_connection):
    output = tmp_path / "latest.json"
    output.write_text(json.dumps({"throughput_bans_per_s": 12.5}))
    out = StringIO()

    call_command(
        "bench",
        only="bancheck",
        duration=0.5,
        in_place=True,
        output=output,
        stdout=out,
        stderr=StringIO(),
    )

    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "bancheck_max_rps",
        "bancheck_noop_max_rps",
        "bancheck_efficiency",
        "bancheck_p50_ms_at_500rps",
        "bancheck_p99_ms_at_500rps",
        "bancheck_p50_ms_at_1000rps",
        "bancheck_p99_ms_at_1000rps",
    ]
    units = ["req/s", "req/s", "×", "ms", "ms", "ms", "ms"]
    for line, unit in zip(lines, units, strict=True):
        assert re.fullmatch(rf"\w+: [0-9.]+ {unit}.* \(target .+\)", line), line
    figures = json.loads(output.read_text())
    assert figures["throughput_bans_per_s"] == 12.5  # other benchmarks' keys are kept
    assert figures["bancheck_max_rps"] > 0
    assert figures["bancheck_noop_max_rps"] > 0
    assert figures["bancheck_efficiency"] == pytest.approx(
        figures["bancheck_max_rps"] / figures["bancheck_noop_max_rps"], abs=0.01
    )
    for rate in (500, 1000):
        p50, p99 = (
            figures[f"bancheck_p50_ms_at_{rate}rps"],
            figures[f"bancheck_p99_ms_at_{rate}rps"],
        )
        assert 0 < p50 <= p99
    # Its own rows are gone, and so are its cache entries.
    assert not VendorApp.objects.exists()
    assert not Ban.objects.exists()
    assert not ApiToken.objects.exists()
    assert not list(redis_connection.scan_iter("moderation:bancheck:*"))


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"only": "nonsense"}, "--only"),
        ({"only": ""}, "--only"),
        ({"only": "bancheck", "duration": 0}, "--duration"),
        ({"only": "bancheck", "duration": 10_000}, "--duration"),
        ({"only": "history", "bans": 0}, "--bans"),
        ({"only": "history", "bans": 10**9}, "--bans"),
    ],
)
def test_bad_options_exit_2_and_name_the_option(options, option):
    with pytest.raises(CommandError) as error:
        call_command("bench", **options)

    assert error.value.returncode == 2
    assert option in str(error.value)
