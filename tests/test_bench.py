"""`manage.py bench` runs end to end at tiny durations, so that it cannot rot unnoticed."""

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from moderation.models import ApiToken, Ban, VendorApp

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_ban_check_benchmark_prints_its_figures_and_merges_them(tmp_path, redis_connection):
    output = tmp_path / "latest.json"
    output.write_text(json.dumps({"throughput_bans_per_s": 12.5}))
    out = StringIO()

    call_command(
        "bench", only="bancheck", duration=0.5, output=output, stdout=out, stderr=StringIO()
    )

    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "bancheck_max_rps",
        "bancheck_p50_ms_at_500rps",
        "bancheck_p99_ms_at_500rps",
    ]
    for line, unit in zip(lines, ["req/s", "ms", "ms"], strict=True):
        assert re.fullmatch(rf"\w+: [0-9.]+ {unit} \(target .+\)", line), line
    figures = json.loads(output.read_text())
    assert figures["throughput_bans_per_s"] == 12.5  # other benchmarks' keys are kept
    assert figures["bancheck_max_rps"] > 0
    assert 0 < figures["bancheck_p50_ms_at_500rps"] <= figures["bancheck_p99_ms_at_500rps"]
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
    ],
)
def test_bad_options_exit_2_and_name_the_option(options, option):
    with pytest.raises(CommandError) as error:
        call_command("bench", **options)

    assert error.value.returncode == 2
    assert option in str(error.value)
