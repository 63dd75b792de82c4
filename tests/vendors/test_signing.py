"""Our signers against the vendors' published vectors and, on random input, their official SDKs.

The SDKs are only test dependencies: they are driven here as far down their own code path as
possible (Volcengine's `SignerV4.sign_only`, Tencent's `TrtcClient._build_req_inter`), fed the
request our client would put on the wire.
"""

import json
import types
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tencentcloud.common import abstract_client, credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.trtc.v20190722 import models as trtc_models
from tencentcloud.trtc.v20190722.trtc_client import TrtcClient
from volcengine.auth.SignerV4 import SignerV4
from volcengine.auth.SignParam import SignParam
from volcengine.Credentials import Credentials

from moderation.vendors import (
    AppConnection,
    TencentClient,
    VolcengineClient,
    ZegoClient,
    tencent,
    volcengine,
    zego,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Non-ASCII on purpose: room ids, user ids and reasons are where real apps put CJK and emoji.
ids = st.text(min_size=1, max_size=20)
keys = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
hostnames = st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9]{1,8}){0,3}", fullmatch=True)
ports = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
# Path prefixes as an emulator or a proxy would add them, non-ASCII included.
prefixes = st.one_of(
    st.just(""),
    st.lists(
        st.text(st.characters(codec="utf-8", exclude_characters="/?#%"), min_size=1, max_size=8)
    ).map(lambda parts: "".join("/" + p for p in parts)),
)
timestamps = st.integers(946684800, 4102444800)  # 2000 to 2100


def endpoint_url(host, port, prefix):
    return f"http://{host}{port}{quote(prefix)}"


def authorization_signature(header: str) -> str:
    return header.rpartition("Signature=")[2]


# --- Volcengine ---


def test_volcengine_signer_reproduces_the_official_vector():
    headers = volcengine.sign(
        method="GET",
        host="iam.volcengineapi.com",
        path="/",
        query={"Action": "ListUsers", "Version": "2018-01-01", "Limit": "10", "Offset": "0"},
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        body=b"",
        access_key_id="AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE",
        secret_access_key="TnpCak5XWXpZV1U0WkRaaE5ERmxaR0ZpTmpjeVkyUXlZek0wTWpJMU1qWQ==",
        region="cn-north-1",
        x_date="20201230T081805Z",
        service="iam",
    )
    assert authorization_signature(headers["Authorization"]) == (
        "28eeabbbd726b87002e0fe58ad8c1c768e619b06e2646f35b6ad7ed029a6d8a7"
    )
    assert "SignedHeaders=content-type;host;x-content-sha256;x-date," in headers["Authorization"]


def sdk_volcengine_authorization(*, method, host, path, query, headers, body, ak, sk, region):
    param = SignParam()
    param.set_method(method)
    param.set_host(host)
    param.set_path(path)
    param.set_query(dict(query))
    param.set_header_list({"Content-Type": headers["Content-Type"], "Host": host})
    param.set_body(body)
    param.set_date(datetime.strptime(headers["X-Date"], "%Y%m%dT%H%M%SZ"))
    return SignerV4.sign_only(param, Credentials(ak, sk, "rtc", region))


@SETTINGS
@given(
    query=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), min_size=1),
    body=st.binary(max_size=200),
    content_type=st.sampled_from(["application/json", "text/plain; charset=utf-8"]),
    host=hostnames,
    port=ports,
    path=prefixes.map(lambda p: p + "/"),
    ak=keys,
    sk=keys,
    region=st.sampled_from(volcengine.REGIONS),
    when=timestamps,
)
def test_volcengine_signer_equals_the_sdk_on_random_requests(
    query, body, content_type, host, port, path, ak, sk, region, when
):
    x_date = datetime.fromtimestamp(when, UTC).strftime("%Y%m%dT%H%M%SZ")
    ours = volcengine.sign(
        method="POST",
        host=host + port,
        path=path,
        query=query,
        headers={"Content-Type": content_type},
        body=body,
        access_key_id=ak,
        secret_access_key=sk,
        region=region,
        x_date=x_date,
    )
    sdk = sdk_volcengine_authorization(
        method="POST",
        host=host + port,
        path=path,
        query=query,
        headers={"Content-Type": content_type, "X-Date": x_date},
        body=body,
        ak=ak,
        sk=sk,
        region=region,
    )
    assert ours["Authorization"] == sdk.authorization
    assert ours["X-Content-Sha256"] == sdk.xContextSha256


@SETTINGS
@given(
    room_id=st.one_of(st.none(), ids),
    user_id=ids,
    seconds=st.integers(0, 10_000_000),
    action=st.sampled_from(["ban", "update", "kick"]),
    host=hostnames,
    port=ports,
    prefix=prefixes,
    ak=keys,
    sk=keys,
    region=st.sampled_from(volcengine.REGIONS),
)
def test_volcengine_client_requests_equal_the_sdk_signature(
    room_id, user_id, seconds, action, host, port, prefix, ak, sk, region
):
    client = VolcengineClient(
        AppConnection(
            vendor="volcengine",
            app_id="661e0000543cf",
            region=region,
            access_key_id=ak,
            secret=sk,
            endpoint=endpoint_url(host, port, prefix),
        )
    )
    if action == "ban":
        request = client.ban_request(room_id=room_id, user_id=user_id, seconds=seconds)
    elif action == "update":
        request = client.update_ban_request(room_id=room_id, user_id=user_id, seconds=seconds)
    else:
        (request,) = client.kick_requests(room_id=room_id or "room", user_ids=[user_id])

    call = client.prepare(request)

    url = urlsplit(call.url)
    assert call.headers["Host"] == url.netloc == host + port
    sdk = sdk_volcengine_authorization(
        method=call.method,
        host=call.headers["Host"],
        path=unquote(url.path),
        query=parse_qsl(url.query),
        headers=call.headers,
        body=call.body,
        ak=ak,
        sk=sk,
        region=region,
    )
    assert call.headers["Authorization"] == sdk.authorization
    assert json.loads(call.body) == request.params


# --- Tencent ---

TENCENT_VECTOR_BODY = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)


def test_tencent_signer_reproduces_the_official_vector():
    header = tencent.sign(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3*******",
        host="cvm.tencentcloudapi.com",
        content_type="application/json; charset=utf-8",
        body=TENCENT_VECTOR_BODY,
        timestamp=1551113065,
        service="cvm",
    )
    assert header == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host, "
        "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    )


SDK_MODELS = {
    "RemoveUser": trtc_models.RemoveUserRequest,
    "RemoveUserByStrRoomId": trtc_models.RemoveUserByStrRoomIdRequest,
    "DismissRoom": trtc_models.DismissRoomRequest,
    "DismissRoomByStrRoomId": trtc_models.DismissRoomByStrRoomIdRequest,
}


def sdk_tencent_request(*, action, params, netloc, path, secret_id, secret_key, region, timestamp):
    """The request the official SDK would build for this action, at this second."""
    model = SDK_MODELS[action]()
    model.from_json_string(json.dumps(params))
    profile = ClientProfile()
    profile.httpProfile.endpoint = netloc
    profile.disable_region_breaker = True
    client = TrtcClient(credential.Credential(secret_id, secret_key), region, profile)
    client._requestPath = path
    request = RequestInternal(netloc, "POST", path, header={})
    # The SDK reads the clock itself: hand it the second our request was signed at.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(abstract_client, "time", types.SimpleNamespace(time=lambda: timestamp))
        client._build_req_inter(action, model._serialize(), request)
    return request


@SETTINGS
@given(
    room_id=st.one_of(
        ids.filter(lambda r: len(r.encode()) <= 64),
        st.integers(1, 2**32 - 1).map(str),
    ),
    user_ids=st.lists(ids.filter(lambda u: len(u.encode()) <= 32), min_size=1, max_size=10),
    action=st.sampled_from(["kick", "dismiss"]),
    sdk_app_id=st.integers(1, 2**32 - 1),
    host=hostnames,
    port=ports,
    prefix=prefixes,
    secret_id=keys,
    secret_key=keys,
    region=st.sampled_from(tencent.REGIONS),
)
def test_tencent_client_requests_equal_the_sdk_byte_for_byte(
    room_id, user_ids, action, sdk_app_id, host, port, prefix, secret_id, secret_key, region
):
    client = TencentClient(
        AppConnection(
            vendor="tencent",
            app_id=str(sdk_app_id),
            region=region,
            access_key_id=secret_id,
            secret=secret_key,
            endpoint=endpoint_url(host, port, prefix),
        )
    )
    if action == "kick":
        (request,) = client.kick_requests(room_id=room_id, user_ids=user_ids)
    else:
        request = client.close_room_request(room_id=room_id)

    call = client.prepare(request)

    url = urlsplit(call.url)
    sdk = sdk_tencent_request(
        action=request.action,
        params=request.params,
        netloc=url.netloc,
        path=url.path,
        secret_id=secret_id,
        secret_key=secret_key,
        region=region,
        timestamp=int(call.headers["X-TC-Timestamp"]),
    )
    assert call.body == sdk.data.encode("utf-8")
    assert call.headers["Authorization"] == sdk.header["Authorization"]
    for name in ("Content-Type", "Host", "X-TC-Action", "X-TC-Version", "X-TC-Region"):
        assert call.headers[name] == sdk.header[name]


@SETTINGS
@given(
    body=st.binary(max_size=300), secret_key=keys, host=hostnames, path=prefixes, when=timestamps
)
def test_tencent_signer_equals_the_sdk_tc3_signature_on_random_bodies(
    body, secret_key, host, path, when
):
    request = RequestInternal(host, "POST", path + "/", header={})
    request.header = {"Content-Type": "application/json", "Host": host, "X-TC-Timestamp": str(when)}
    request.data = body
    date = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d")
    sdk_client = TrtcClient(credential.Credential("id", secret_key), "ap-beijing")
    expected = sdk_client._get_tc3_signature({}, request, date, "trtc", secret_key)

    ours = tencent.sign(
        secret_id="id",
        secret_key=secret_key,
        host=host,
        content_type="application/json",
        body=body,
        timestamp=when,
        path=path + "/",
    )
    assert authorization_signature(ours) == expected


# --- ZEGO ---


def test_zego_signature_reproduces_the_official_vector():
    assert (
        zego.signature(
            app_id=12345,
            nonce="4fd24687296dd9f3",
            server_secret="9193cc662a4c0ec135ec71fb57194b38",
            timestamp=1615186943,
        )
        == "43e5cfcca828314675f91b001390566a"
    )


@SETTINGS
@given(nonce_a=st.text(min_size=1), nonce_b=st.text(min_size=1), when=timestamps)
def test_zego_signature_changes_with_the_nonce(nonce_a, nonce_b, when):
    def sign(nonce):
        return zego.signature(
            app_id=12345,
            nonce=nonce,
            server_secret="9193cc662a4c0ec135ec71fb57194b38",
            timestamp=when,
        )

    assert (sign(nonce_a) == sign(nonce_b)) == (nonce_a == nonce_b)


def test_zego_client_signs_every_call_with_a_fresh_16_hex_nonce():
    client = ZegoClient(
        AppConnection(vendor="zego", app_id="12345", secret="9193cc662a4c0ec135ec71fb57194b38")
    )
    (request,) = client.kick_requests(room_id="room1", user_ids=["a"])

    queries = [dict(parse_qsl(urlsplit(client.prepare(request).url).query)) for _ in range(20)]

    nonces = {q["SignatureNonce"] for q in queries}
    assert len(nonces) == 20
    assert all(len(n) == 16 and int(n, 16) >= 0 for n in nonces)
    for q in queries:
        assert q["SignatureVersion"] == "2.0"
        assert q["Signature"] == zego.signature(
            app_id="12345",
            nonce=q["SignatureNonce"],
            server_secret="9193cc662a4c0ec135ec71fb57194b38",
            timestamp=q["Timestamp"],
        )
