"""Signed calls to the emulator over real HTTP, made with the product's own signers."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from moderation.vendors import tencent, volcengine, zego

VOLCENGINE = {"app_id": "661e0000543cf", "access_key_id": "AKLTemulatortest", "secret": "volc-sk"}
ZEGO = {"app_id": "1234567890", "secret": "0123456789abcdef0123456789abcdef"}
TENCENT = {"app_id": "1400000001", "access_key_id": "AKIDemulatortest", "secret": "tc-secret-key"}
VOLCENGINE_VERSIONS = {
    "BanRoomUser": "2023-11-01",
    "UpdateBanRoomUserRule": "2023-11-01",
    "KickUser": "2020-12-01",
    "DismissRoom": "2020-12-01",
    "BanUserStream": "2023-11-01",
    "UnbanUserStream": "2023-11-01",
}


def x_date(at: float | None = None) -> str:
    return datetime.fromtimestamp(at or time.time(), UTC).strftime("%Y%m%dT%H%M%SZ")


class Vendors:
    """One requests.Session against one running emulator, signing as the clients will."""

    def __init__(self, base_url: str, timeout: float = 5.0):
        self.base_url = base_url
        self.host = urlsplit(base_url).netloc
        self.session = requests.Session()
        self.timeout = timeout

    def volcengine(
        self,
        action: str,
        body: dict | bytes,
        *,
        version: str | None = None,
        access_key_id: str = VOLCENGINE["access_key_id"],
        secret: str = VOLCENGINE["secret"],
        region: str = "cn-north-1",
        signed_at: float | None = None,
        path: str = "/volcengine/",
        signed_path: str | None = None,
        sent_body: bytes | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        query = {"Action": action, "Version": version or VOLCENGINE_VERSIONS.get(action, "")}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = volcengine.sign(
            method="POST",
            host=self.host,
            path=signed_path or path,
            query=query,
            headers={"Content-Type": "application/json"},
            body=data,
            access_key_id=access_key_id,
            secret_access_key=secret,
            region=region,
            x_date=x_date(signed_at),
        )
        return self.session.post(
            self.base_url + path,
            params=query,
            data=data if sent_body is None else sent_body,
            headers=headers,
            timeout=timeout or self.timeout,
        )

    def zego(
        self,
        action: str,
        params: list[tuple[str, str]] | None = None,
        *,
        app_id: str = ZEGO["app_id"],
        secret: str = ZEGO["secret"],
        signed_at: float | None = None,
        common: dict | None = None,
        path: str = "/zego/",
        timeout: float | None = None,
    ) -> requests.Response:
        timestamp = int(signed_at or time.time())
        nonce = secrets.token_hex(8)
        signature = zego.signature(
            app_id=app_id, nonce=nonce, server_secret=secret, timestamp=timestamp
        )
        fields = {
            "Action": action,
            "AppId": app_id,
            "SignatureNonce": nonce,
            "Timestamp": str(timestamp),
            "SignatureVersion": "2.0",
            "Signature": signature,
            **(common or {}),
        }
        pairs = [(k, v) for k, v in fields.items() if v is not None] + list(params or [])
        return self.session.get(self.base_url + path, params=pairs, timeout=timeout or self.timeout)

    def tencent(
        self,
        action: str,
        body: dict,
        *,
        secret_id: str = TENCENT["access_key_id"],
        secret_key: str = TENCENT["secret"],
        region: str = "ap-guangzhou",
        version: str = "2019-07-22",
        signed_at: float | None = None,
        sent_body: bytes | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        timestamp = int(signed_at or time.time())
        data = json.dumps(body).encode()
        authorization = tencent.sign(
            secret_id=secret_id,
            secret_key=secret_key,
            host=self.host,
            content_type="application/json",
            body=data,
            timestamp=timestamp,
            path="/tencent/",
        )
        headers = {
            "Authorization": authorization,
            "Content-Type": "application/json",
            "Host": self.host,
            "X-TC-Action": action,
            "X-TC-Version": version,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": region,
        }
        return self.session.post(
            self.base_url + "/tencent/",
            data=data if sent_body is None else sent_body,
            headers=headers,
            timeout=timeout or self.timeout,
        )


def volcengine_error(response: requests.Response) -> str:
    return response.json()["ResponseMetadata"].get("Error", {}).get("Code", "")


def zego_code(response: requests.Response) -> int:
    assert response.status_code == 200
    return response.json()["Code"]


def tencent_error(response: requests.Response) -> str:
    assert response.status_code == 200
    return response.json()["Response"].get("Error", {}).get("Code", "")
