"""Message headers as one BLOB: a compact length-prefixed encoding (order and repeats kept).

Layout: ``u16 count``, then per header ``u16 name length, name (UTF-8), u32 value length,
value``; no headers is ``NULL``.
"""

from __future__ import annotations

import struct

from fraudstream.stream.transport.base import Headers

__all__ = ["decode_headers", "encode_headers"]

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


def encode_headers(headers: Headers) -> bytes | None:
    if not headers:
        return None
    parts = [_U16.pack(len(headers))]
    for name, value in headers:
        raw = name.encode()
        parts += [_U16.pack(len(raw)), raw, _U32.pack(len(value)), value]
    return b"".join(parts)


def decode_headers(blob: bytes | None) -> Headers:
    if not blob:
        return ()
    (count,) = _U16.unpack_from(blob, 0)
    pos = 2
    out: list[tuple[str, bytes]] = []
    for _ in range(count):
        (n,) = _U16.unpack_from(blob, pos)
        name = blob[pos + 2 : pos + 2 + n].decode()
        pos += 2 + n
        (v,) = _U32.unpack_from(blob, pos)
        out.append((name, blob[pos + 4 : pos + 4 + v]))
        pos += 4 + v
    return tuple(out)
