"""Authentication: SigV4 for the AFD protocol, API keys for the REST API.

SigV4 is verified by recomputing the signature with botocore's own signer over the request as
received (the signed headers, path, query and body hash) and comparing in constant time, so
the server accepts exactly what boto3 produces and nothing looser. The secret never leaves the
process: errors say what is wrong with the request, never what the right signature was.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from fraudstream.api.errors import ApiError

ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_AMZ_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")


class _ReceivedRequest(AWSRequest):  # type: ignore[misc]
    """An AWSRequest for bytes already received: ``body`` is the data as is (the base class
    would run a full request preparation on every access, the costliest step here)."""

    @property
    def body(self) -> bytes:
        return self.data  # type: ignore[no-any-return]


def _canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed: list[str],
    body: bytes,
    body_hash: str,
) -> str:
    """SigV4's canonical request, as botocore builds it.

    The AFD protocol is always ``POST /`` without a query: that shape is built directly (a
    tenth of botocore's cost, a fifth of a prediction's), anything else goes through botocore's
    own signer. A test holds the two equal.
    """
    if path == "/" and not query:
        lines = "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed)
        return f"{method.upper()}\n/\n\n{lines}\n{';'.join(signed)}\n{body_hash}"
    return _botocore_canonical_request(method, path, query, headers, signed, body)


def _botocore_canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed: list[str],
    body: bytes,
) -> str:
    url = f"http://{headers['host']}{path}" + (f"?{query}" if query else "")
    request = _ReceivedRequest(
        method=method, url=url, headers={h: headers[h] for h in signed}, data=body
    )
    signer = SigV4Auth(Credentials("-", "-"), "-", "-")
    return str(signer.canonical_request(request))


@functools.lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key (the same HMAC chain as SigV4Auth.signature), once per day."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _parse_amz_date(text: str) -> datetime | None:
    match = _AMZ_DATE.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who signed the request (for logs and audit; never the secret)."""

    access_key_id: str
    region: str


def _denied(message: str) -> ApiError:
    return ApiError("AccessDeniedException", message)


class SigV4Verifier:
    """Checks ``Authorization: AWS4-HMAC-SHA256 ...`` against the configured key pairs."""

    def __init__(
        self, keys: Mapping[str, str], *, service: str, max_skew_seconds: float = 900.0
    ) -> None:
        self._keys = dict(keys)
        self._service = service
        self._max_skew = max_skew_seconds

    def verify(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime | None = None,
    ) -> Caller:
        """Return the caller or raise AccessDenied/UnrecognizedClient (HTTP 403).

        ``headers`` must have lower-case names (as ASGI gives them).
        """
        authorization = headers.get("authorization")
        if not authorization:
            raise ApiError(
                "AccessDeniedException",
                "missing Authorization header: requests must be signed with AWS SigV4",
            )
        match = _AUTH.match(authorization)
        if match is None:
            raise _denied(f"malformed Authorization header: expected {ALGORITHM} SigV4")
        scope = match["credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise _denied("malformed credential scope in the Authorization header")
        key_id, scope_date, region, service, _ = scope
        secret = self._keys.get(key_id)
        if secret is None:
            raise ApiError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
                status=403,
            )
        if service != self._service:
            raise _denied(f"credential scope names service {service!r}, not {self._service!r}")
        amz_date = headers.get("x-amz-date", "")
        signed_at = _parse_amz_date(amz_date)
        if signed_at is None:
            raise _denied("missing or malformed X-Amz-Date header (YYYYMMDDTHHMMSSZ)")
        if scope_date != amz_date[:8]:
            raise _denied("the credential scope date does not match X-Amz-Date")
        skew = abs(((now or datetime.now(UTC)) - signed_at).total_seconds())
        if skew > self._max_skew:
            raise _denied(
                f"Signature expired: X-Amz-Date {amz_date} is more than "
                f"{int(self._max_skew // 60)} minutes from the server's time"
            )
        signed = match["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            raise _denied("SignedHeaders must include host and x-amz-date")
        if signed != sorted(set(signed)) or any(
            h != h.lower() or h in SIGNED_HEADERS_BLACKLIST for h in signed
        ):
            raise _denied("SignedHeaders is not in canonical form (sorted, lower case)")
        missing = [h for h in signed if h not in headers]
        if missing:
            raise _denied(f"signed header(s) missing from the request: {', '.join(missing)}")

        body_hash = hashlib.sha256(body).hexdigest()
        claimed = headers.get("x-amz-content-sha256")
        if claimed is not None and claimed != body_hash:
            # botocore's signer takes this header as the body's hash without looking at the
            # body; AWS checks it, and so must we, or a signed header would vouch for any body.
            raise _denied("X-Amz-Content-SHA256 does not match the request body")
        canonical = _canonical_request(method, path, query, headers, signed, body, body_hash)
        scope_text = f"{scope_date}/{region}/{service}/aws4_request"
        string_to_sign = "\n".join(
            (
                ALGORITHM,
                amz_date,
                scope_text,
                hashlib.sha256(canonical.encode()).hexdigest(),
            )
        )
        expected = hmac.new(
            _signing_key(secret, scope_date, region, service),
            string_to_sign.encode(),
            hashlib.sha256,
        ).hexdigest()
        if not hmac.compare_digest(expected, match["signature"]):
            raise _denied(
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method."
            )
        return Caller(key_id, region)


class ApiKeyVerifier:
    """Constant-time check of a REST API key against every configured key."""

    def __init__(self, keys: frozenset[str]) -> None:
        self._keys = tuple(k.encode() for k in keys)

    def verify(self, presented: str | None) -> bool:
        if not presented:
            return False
        candidate = presented.encode()
        found = False
        for key in self._keys:
            # No early exit: the time taken does not tell which key (or how much) matched.
            found |= hmac.compare_digest(key, candidate)
        return found


def bearer_token(authorization: str | None) -> str | None:
    """The key from ``Authorization: Bearer <key>`` (None for other schemes)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
