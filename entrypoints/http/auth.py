"""Webhook credentials (SPEC §2.1): HTTP Basic and/or a bearer token, compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac


class Authenticator:
    def __init__(self, basic_user: str = "", basic_pass: str = "", bearer: str = "") -> None:
        self._basic = f"{basic_user}:{basic_pass}".encode() if basic_user else None
        self._bearer = bearer.encode() if bearer else None

    @property
    def required(self) -> bool:
        return self._basic is not None or self._bearer is not None

    @property
    def challenge(self) -> str:
        schemes = []
        if self._basic is not None:
            schemes.append('Basic realm="zeroops", charset="UTF-8"')
        if self._bearer is not None:
            schemes.append('Bearer realm="zeroops"')
        return ", ".join(schemes)

    def allows(self, authorization: str | None) -> bool:
        if not self.required:
            return True
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        credentials = credentials.strip()
        scheme = scheme.lower()
        if scheme == "basic" and self._basic is not None:
            try:
                presented = base64.b64decode(credentials.encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError):
                return False
            return hmac.compare_digest(presented, self._basic)
        if scheme == "bearer" and self._bearer is not None:
            try:
                return hmac.compare_digest(credentials.encode("utf-8"), self._bearer)
            except UnicodeEncodeError:
                return False
        return False
