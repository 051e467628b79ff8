"""Redis's value serialization (DUMP/RESTORE payloads): RDB version 10 as Redis 7.0 writes it.

A payload is one RDB object (a type byte and the encoded value), the RDB version as two bytes
and a CRC64 of everything before it (Jones polynomial, reflected, as Redis's ``crc64.c``), both
little-endian. Values are written the way Redis 7.0 writes the same data: strings with integer
encoding or LZF compression (a port of ``lzf_c.c``, so compressed bytes are Redis's too); small
hashes and sorted sets as listpacks, small integer sets as intsets, lists as quicklists of
listpacks, split into nodes as Redis's ``list-max-listpack-size`` splits a list built by
RPUSH; big collections element by element. Which encoding Redis would use is read from the
current contents (``object_encoding``), so a collection that Redis would still keep in its big
encoding after shrinking is written small here: still a valid payload with equal contents.

Reading accepts every type Redis 7.0 restores except streams and modules (trapline.kv has
neither): the listpack, ziplist, intset and quicklist encodings of older RDB versions too.
Anything malformed raises ``BadPayload``.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections import deque
from typing import TYPE_CHECKING, Any

from ._cmd_zsets import _strtod
from ._db import ZSet
from ._resp import parse_int

if TYPE_CHECKING:
    from ._db import Database

__all__ = [
    "RDB_VERSION",
    "BadPayload",
    "crc64",
    "dump",
    "load",
    "lzf_compress",
    "read_value",
    "verify",
]

RDB_VERSION = 10

_STRING, _LIST, _SET, _ZSET, _HASH, _ZSET_2 = 0, 1, 2, 3, 4, 5
_LIST_ZIPLIST, _SET_INTSET, _ZSET_ZIPLIST, _HASH_ZIPLIST, _LIST_QUICKLIST = 10, 11, 12, 13, 14
_HASH_LISTPACK, _ZSET_LISTPACK, _LIST_QUICKLIST_2 = 16, 17, 18
_PLAIN, _PACKED = 1, 2  # quicklist node containers

_INT32 = 2**31
# LZF in pure Python takes about a second per MiB of incompressible data (text goes faster), and
# the server waits meanwhile. Up to _LZF_ALWAYS bytes a string is compressed exactly as Redis
# does; a bigger one only if zlib finds it compressible at all (so random or already compressed
# data is stored as it is), and none above _LZF_LIMIT. Redis restores either form.
_LZF_ALWAYS = 128 << 10
_LZF_LIMIT = 16 << 20


class BadPayload(Exception):
    """The payload does not hold a value this server can load."""


# -- CRC64 (Jones) -----------------------------------------------------------------------------


def _crc_table() -> list[int]:
    poly = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9, bit-reversed
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc64(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """Redis's ``crc64(crc, data)``."""
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


# -- LZF ---------------------------------------------------------------------------------------

_MAX_LIT = 32
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)


class _Slots(dict[int, int]):
    """lzf's hash table as a dict: an empty slot reads as -1, as in the list form."""

    __slots__ = ()

    def __missing__(self, key: int) -> int:
        return -1


def lzf_compress(data: bytes, out_len: int) -> bytes | None:
    """``lzf_compress`` as Redis builds it (HLOG 16, VERY_FAST): the compressed bytes, or None
    if they would not fit in ``out_len`` bytes."""
    in_end = len(data)
    if not in_end or not out_len:
        return None
    # lzf's rolling hash slot, ((h >> 8) - h * 5) & 0xffff, depends only on the three bytes at
    # the position, so it is computed from them; -1 marks an empty slot (lzf's NULL).
    # A short input (most strings) touches a few slots: a dict saves building and freeing
    # the 64K-slot list, which took longer than compressing.
    htab: Any = _Slots() if in_end < 4096 else [-1] * 65536
    out = bytearray(out_len + 64)
    ip, op, lit = 0, 1, 0
    last = in_end - 2
    while ip < last:
        b0, b1, b2 = data[ip], data[ip + 1], data[ip + 2]
        slot = ((b0 << 8 | b1) - (b1 << 8 | b2) * 5) & 0xFFFF
        ref = htab[slot]
        htab[slot] = ip
        if (
            ref > 0  # lzf never refers back to the very first byte
            and ip - ref <= _MAX_OFF
            and data[ref + 2] == b2
            and data[ref] == b0
            and data[ref + 1] == b1
        ):
            off = ip - ref - 1
            length = 2
            maxlen = min(in_end - ip - length, _MAX_REF)
            if op + 4 >= out_len and op - (lit == 0) + 4 >= out_len:
                return None
            out[op - lit - 1] = (lit - 1) & 0xFF  # stop the literal run
            op -= lit == 0
            unrolled_all = True
            if maxlen > 16:
                # The C code compares 16 bytes unchecked before its bounded loop.
                for _ in range(16):
                    length += 1
                    if data[ref + length] != data[ip + length]:
                        unrolled_all = False
                        break
            if unrolled_all:
                length += 1
                while length < maxlen and data[ref + length] == data[ip + length]:
                    length += 1
            length -= 2
            ip += 1
            if length < 7:
                out[op] = (off >> 8) + (length << 5)
                op += 1
            else:
                out[op] = (off >> 8) + (7 << 5)
                out[op + 1] = length - 7
                op += 2
            out[op] = off & 0xFF
            op += 2  # and start a new literal run
            lit = 0
            ip += length + 1
            if ip >= last:
                break
            ip -= 2
            for _ in range(2):
                b0, b1, b2 = data[ip], data[ip + 1], data[ip + 2]
                htab[((b0 << 8 | b1) - (b1 << 8 | b2) * 5) & 0xFFFF] = ip
                ip += 1
        else:
            if op >= out_len:
                return None
            lit += 1
            out[op] = b0
            op += 1
            ip += 1
            if lit == _MAX_LIT:
                out[op - lit - 1] = lit - 1
                lit = 0
                op += 1
    if op + 3 > out_len:
        return None
    while ip < in_end:
        lit += 1
        out[op] = data[ip]
        op += 1
        ip += 1
        if lit == _MAX_LIT:
            out[op - lit - 1] = lit - 1
            lit = 0
            op += 1
    out[op - lit - 1] = (lit - 1) & 0xFF
    op -= lit == 0
    return bytes(out[:op])


def lzf_decompress(data: bytes, out_len: int) -> bytes | None:
    """``lzf_decompress``: the original bytes, or None if ``data`` is corrupt."""
    out = bytearray()
    ip, end = 0, len(data)
    while ip < end:
        ctrl = data[ip]
        ip += 1
        if ctrl < 32:
            ctrl += 1
            if len(out) + ctrl > out_len or ip + ctrl > end:
                return None
            out += data[ip : ip + ctrl]
            ip += ctrl
            continue
        length = ctrl >> 5
        if length == 7:
            if ip >= end:
                return None
            length += data[ip]
            ip += 1
        if ip >= end:
            return None
        ref = len(out) - ((ctrl & 0x1F) << 8) - 1 - data[ip]
        ip += 1
        length += 2
        if len(out) + length > out_len or ref < 0:
            return None
        if ref + length <= len(out):
            out += out[ref : ref + length]
        else:
            for k in range(length):  # the copy overlaps what it writes
                out.append(out[ref + k])
    return bytes(out)


# -- writing -----------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return bytes([(n >> 8) | 0x40, n & 0xFF])
    if n <= 0xFFFFFFFF:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def _encoded_int(value: int) -> bytes | None:
    if -128 <= value <= 127:
        return struct.pack("<Bb", 0xC0, value)
    if -32768 <= value <= 32767:
        return struct.pack("<Bh", 0xC1, value)
    if -_INT32 <= value < _INT32:
        return struct.pack("<Bi", 0xC2, value)
    return None


def _string(data: bytes, compress: bool) -> bytes:
    """``rdbSaveRawString``: an integer encoding, LZF, or length and bytes."""
    size = len(data)
    if size <= 11:
        number = parse_int(data)
        if number is not None:
            encoded = _encoded_int(number)
            if encoded is not None:
                return encoded
    if compress and 20 < size <= _LZF_LIMIT and (size <= _LZF_ALWAYS or _compressible(data)):
        packed = lzf_compress(data, size - 4)
        if packed is not None:
            return b"\xc3" + _length(len(packed)) + _length(size) + packed
    return _length(size) + data


def _compressible(data: bytes) -> bool:
    return len(zlib.compress(data, 1)) < len(data) * 0.97


def _lp_backlen(size: int) -> bytes:
    """``lpEncodeBacklen``: the entry size, most significant 7 bits first; every byte but the
    first has its top bit set (it is read backwards)."""
    if size <= 127:
        return bytes([size])
    count = next(
        n for n, limit in ((2, 16383), (3, 2097151), (4, 268435455), (5, 2**64)) if size < limit
    )
    parts = [(size >> (7 * shift)) & 127 for shift in range(count - 1, -1, -1)]
    return bytes([parts[0], *(part | 128 for part in parts[1:])])


def _lp_entry(item: bytes | int) -> bytes:
    value = item if type(item) is int else parse_int(item)  # type: ignore[arg-type]
    if value is not None:
        if 0 <= value <= 127:
            entry = bytes([value])
        elif -4096 <= value <= 4095:
            value &= 0x1FFF
            entry = bytes([(value >> 8) | 0xC0, value & 0xFF])
        elif -32768 <= value <= 32767:
            entry = b"\xf1" + struct.pack("<h", value)
        elif -8388608 <= value <= 8388607:
            entry = b"\xf2" + (value & 0xFFFFFF).to_bytes(3, "little")
        elif -_INT32 <= value < _INT32:
            entry = b"\xf3" + struct.pack("<i", value)
        else:
            entry = b"\xf4" + struct.pack("<q", value)
    else:
        assert isinstance(item, bytes)
        size = len(item)
        if size < 64:
            entry = bytes([size | 0x80]) + item
        elif size < 4096:
            entry = bytes([(size >> 8) | 0xE0, size & 0xFF]) + item
        else:
            entry = b"\xf0" + struct.pack("<I", size) + item
    return entry + _lp_backlen(len(entry))


def listpack(items: list[bytes | int]) -> bytes:
    """A listpack holding ``items`` (strings that are canonical integers become integers)."""
    body = b"".join([_lp_entry(item) for item in items])
    count = min(len(items), 65535)
    return struct.pack("<IH", len(body) + 7, count) + body + b"\xff"


def _intset(members: list[int]) -> bytes:
    low, high = min(members), max(members)
    if low >= -32768 and high <= 32767:
        width, code = 2, "h"
    elif low >= -_INT32 and high < _INT32:
        width, code = 4, "i"
    else:
        width, code = 8, "q"
    members.sort()
    return struct.pack(f"<II{len(members)}{code}", width, len(members), *members)


def _double_to_ll(score: float) -> int | None:
    """Redis ``double2ll``: the score as an integer if that loses nothing (and |d| <= 2^62)."""
    if math.isfinite(score) and -(2.0**62) <= score <= 2.0**62 and score == int(score):
        return int(score)
    return None


def _zset_score(score: float) -> bytes | int:
    whole = _double_to_ll(score)
    if whole is not None:
        return whole
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    return b"%.17g" % score


def _quicklist_nodes(items: list[bytes], fill: int) -> list[list[bytes]]:
    """Split a list into nodes as Redis's ``quicklistPushTail`` does (``fill`` is
    list-max-listpack-size)."""
    levels = (4096, 8192, 16384, 32768, 65536)
    nodes: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for item in items:
        if current:
            new_size = size + len(item) + 8
            if fill < 0 and -fill - 1 < len(levels):
                allow = new_size <= levels[-fill - 1]
            else:
                allow = new_size <= 8192 and len(current) < fill
            if allow:
                current.append(item)
                size += len(_lp_entry(item))
                continue
            nodes.append(current)
        current = [item]
        size = 7 + len(_lp_entry(item))
    if current:
        nodes.append(current)
    return nodes


def _serialize(db: Database, key: bytes, value: Any) -> bytes:
    from ._cmd_keys import object_encoding

    values = db.server.config.values
    compress = values.get("rdbcompression", "yes") == "yes"
    kind = type(value)
    if kind is bytes:
        return bytes([_STRING]) + _string(value, compress)
    encoding = object_encoding(db, key, value)
    if kind is deque:
        fill = parse_int(values.get("list-max-listpack-size", "-2").encode())
        nodes = _quicklist_nodes(list(value), -2 if fill is None else fill)
        parts = [bytes([_LIST_QUICKLIST_2]), _length(len(nodes))]
        for node in nodes:
            parts += [_length(_PACKED), _string(listpack(list(node)), compress)]
        return b"".join(parts)
    if kind is set:
        if encoding == "intset":
            return bytes([_SET_INTSET]) + _string(_intset([int(m) for m in value]), compress)
        parts = [bytes([_SET]), _length(len(value))]
        parts += [_string(member, compress) for member in value]
        return b"".join(parts)
    if kind is dict:
        if encoding == "listpack":
            flat: list[bytes | int] = [part for pair in value.items() for part in pair]
            return bytes([_HASH_LISTPACK]) + _string(listpack(flat), compress)
        parts = [bytes([_HASH]), _length(len(value))]
        for field, item in value.items():
            parts += [_string(field, compress), _string(item, compress)]
        return b"".join(parts)
    if kind is ZSet:
        if encoding == "listpack":
            pairs: list[bytes | int] = []
            for score, member in value.order:
                pairs += [member, _zset_score(score)]
            return bytes([_ZSET_LISTPACK]) + _string(listpack(pairs), compress)
        parts = [bytes([_ZSET_2]), _length(len(value))]
        for score, member in reversed(value.order):  # greatest first, as Redis saves
            parts += [_string(member, compress), struct.pack("<d", score)]
        return b"".join(parts)
    raise TypeError(f"cannot serialize {kind.__name__}")


def dump(db: Database, key: bytes, value: Any) -> bytes:
    """The DUMP payload of ``value`` (stored at ``key`` in ``db``, whose config decides the
    encodings)."""
    body = _serialize(db, key, value) + struct.pack("<H", RDB_VERSION)
    return body + struct.pack("<Q", crc64(body))


def verify(payload: bytes) -> bool:
    """Redis ``verifyDumpPayload``: a version we know and a matching checksum."""
    if len(payload) < 10:
        return False
    version = payload[-10] | (payload[-9] << 8)
    if version > RDB_VERSION:
        return False
    checksum: int = struct.unpack("<Q", payload[-8:])[0]
    return checksum == crc64(memoryview(payload)[:-8])


# -- reading -----------------------------------------------------------------------------------


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, count: int) -> bytes:
        end = self.pos + count
        if count < 0 or end > len(self.data):
            raise BadPayload("truncated")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def length(self) -> tuple[int, bool]:
        """``rdbLoadLenByRef``: (length or special encoding, is it an encoding)."""
        first = self.byte()
        kind = first >> 6
        if kind == 3:
            return first & 0x3F, True
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(), False
        if first == 0x80:
            return struct.unpack(">I", self.take(4))[0], False
        if first == 0x81:
            return struct.unpack(">Q", self.take(8))[0], False
        raise BadPayload("unknown length encoding")

    def count(self) -> int:
        value, encoded = self.length()
        if encoded:
            raise BadPayload("encoded length")
        return value

    def string(self) -> bytes:
        value, encoded = self.length()
        if not encoded:
            return self.take(value)
        if value == 0:
            return b"%d" % struct.unpack("<b", self.take(1))[0]
        if value == 1:
            return b"%d" % struct.unpack("<h", self.take(2))[0]
        if value == 2:
            return b"%d" % struct.unpack("<i", self.take(4))[0]
        if value == 3:
            packed_len, size = self.count(), self.count()
            original = lzf_decompress(self.take(packed_len), size)
            if original is None or len(original) != size:
                raise BadPayload("invalid LZF compressed string")
            return original
        raise BadPayload("unknown string encoding")


def _read_listpack(blob: bytes) -> list[bytes]:
    if len(blob) < 7 or struct.unpack("<I", blob[:4])[0] != len(blob) or blob[-1] != 0xFF:
        raise BadPayload("bad listpack header")
    items: list[bytes] = []
    pos, end = 6, len(blob) - 1
    while pos < end:
        first = blob[pos]
        if first < 0x80:
            item, size = b"%d" % first, 1
        elif first < 0xC0:
            length = first & 0x3F
            item, size = blob[pos + 1 : pos + 1 + length], 1 + length
        elif first < 0xE0:
            value = ((first & 0x1F) << 8) | blob[pos + 1]
            item, size = b"%d" % (value - 8192 if value >= 4096 else value), 2
        elif first < 0xF0:
            length = ((first & 0x0F) << 8) | blob[pos + 1]
            item, size = blob[pos + 2 : pos + 2 + length], 2 + length
        elif first == 0xF0:
            length = struct.unpack("<I", blob[pos + 1 : pos + 5])[0]
            item, size = blob[pos + 5 : pos + 5 + length], 5 + length
        elif 0xF1 <= first <= 0xF4:
            width = {0xF1: 2, 0xF2: 3, 0xF3: 4, 0xF4: 8}[first]
            raw = blob[pos + 1 : pos + 1 + width]
            item, size = b"%d" % int.from_bytes(raw, "little", signed=True), 1 + width
        else:
            raise BadPayload("bad listpack entry")
        pos += size + len(_lp_backlen(size))
        if pos > end:
            raise BadPayload("listpack entry runs past the end")
        items.append(item)
    return items


def _read_ziplist(blob: bytes) -> list[bytes]:
    if len(blob) < 11 or struct.unpack("<I", blob[:4])[0] != len(blob) or blob[-1] != 0xFF:
        raise BadPayload("bad ziplist header")
    items: list[bytes] = []
    pos, end = 10, len(blob) - 1
    while pos < end:
        pos += 5 if blob[pos] == 0xFE else 1  # the previous entry's length
        if pos >= end:
            raise BadPayload("ziplist entry runs past the end")
        first = blob[pos]
        kind = first >> 6
        if kind == 0:
            length, pos = first & 0x3F, pos + 1
        elif kind == 1:
            length, pos = ((first & 0x3F) << 8) | blob[pos + 1], pos + 2
        elif kind == 2:
            length, pos = struct.unpack(">I", blob[pos + 1 : pos + 5])[0], pos + 5
        else:
            widths = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}
            pos += 1
            if first in widths:
                width = widths[first]
                raw = blob[pos : pos + width]
                items.append(b"%d" % int.from_bytes(raw, "little", signed=True))
                pos += width
            elif 0xF1 <= first <= 0xFD:
                items.append(b"%d" % ((first & 0x0F) - 1))
            else:
                raise BadPayload("bad ziplist entry")
            continue
        items.append(blob[pos : pos + length])
        pos += length
    if pos != end:
        raise BadPayload("ziplist entry runs past the end")
    return items


def _read_intset(blob: bytes) -> list[bytes]:
    if len(blob) < 8:
        raise BadPayload("bad intset")
    width, count = struct.unpack("<II", blob[:8])
    code = {2: "h", 4: "i", 8: "q"}.get(width)
    if code is None or len(blob) != 8 + width * count:
        raise BadPayload("bad intset")
    return [b"%d" % n for n in struct.unpack(f"<{count}{code}", blob[8:])]


def _score(text: bytes) -> float:
    value = _strtod(text)[0]
    if math.isnan(value):
        raise BadPayload("NaN score")
    return value


def _pairs(items: list[bytes]) -> list[tuple[bytes, bytes]]:
    if len(items) % 2:
        raise BadPayload("odd number of entries")
    return list(zip(items[::2], items[1::2], strict=True))


def _zset(pairs: list[tuple[bytes, float]]) -> ZSet:
    zset = ZSet()
    for member, score in pairs:
        if math.isnan(score) or not zset.add(member, score):
            raise BadPayload("duplicate member or NaN score")
    return zset


def _hash(pairs: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise BadPayload("duplicate field")
    return value


def _double(reader: _Reader) -> float:
    """``rdbLoadDoubleValue`` (the text form of the oldest sorted sets)."""
    size = reader.byte()
    if size == 253:
        return math.nan
    if size in (254, 255):
        return math.inf if size == 254 else -math.inf
    return _score(reader.take(size))


def load(payload: bytes) -> Any:
    """The value in a DUMP payload (already verified); raises ``BadPayload``."""
    reader = _Reader(payload)
    return read_value(reader, reader.byte())


def read_value(reader: _Reader, kind: int) -> Any:
    """The value of RDB object type ``kind`` at the reader's position (in an RDB file the key
    sits between the type byte and the value); raises ``BadPayload``."""
    value: Any
    if kind == _STRING:
        return reader.string()
    if kind == _LIST:
        value = deque(reader.string() for _ in range(reader.count()))
    elif kind == _SET:
        members = [reader.string() for _ in range(reader.count())]
        value = set(members)
        if len(value) != len(members):
            raise BadPayload("duplicate member")
    elif kind in (_ZSET, _ZSET_2):
        binary = kind == _ZSET_2
        pairs = []
        for _ in range(reader.count()):
            member = reader.string()
            score = struct.unpack("<d", reader.take(8))[0] if binary else _double(reader)
            pairs.append((member, score))
        value = _zset(pairs)
    elif kind == _HASH:
        fields = []
        for _ in range(reader.count()):
            fields.append((reader.string(), reader.string()))
        value = _hash(fields)
    elif kind in (_LIST_ZIPLIST, _LIST_QUICKLIST, _LIST_QUICKLIST_2):
        value = deque()
        nodes = 1 if kind == _LIST_ZIPLIST else reader.count()
        for _ in range(nodes):
            if kind == _LIST_QUICKLIST_2:
                container = reader.count()
                if container == _PLAIN:
                    value.append(reader.string())
                    continue
                if container != _PACKED:
                    raise BadPayload("unknown quicklist container")
                value.extend(_read_listpack(reader.string()))
            else:
                value.extend(_read_ziplist(reader.string()))
    elif kind == _SET_INTSET:
        value = set(_read_intset(reader.string()))
    elif kind in (_ZSET_ZIPLIST, _ZSET_LISTPACK):
        read = _read_ziplist if kind == _ZSET_ZIPLIST else _read_listpack
        value = _zset([(m, _score(s)) for m, s in _pairs(read(reader.string()))])
    elif kind in (_HASH_ZIPLIST, _HASH_LISTPACK):
        read = _read_ziplist if kind == _HASH_ZIPLIST else _read_listpack
        value = _hash(_pairs(read(reader.string())))
    else:
        raise BadPayload(f"unsupported object type {kind}")
    if not value:
        raise BadPayload("empty key")
    return value
