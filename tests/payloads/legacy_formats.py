"""Byte-exact builders of legacy container formats the test suite cannot get from a library here.

* :func:`biff8_xls` – a genuine Excel 97–2003 ``.xls`` (BIFF8 workbook stream inside an OLE2
  compound file), text cells only, as old platform back ends export it. ``xlwt`` is not a
  dependency, so the few records needed are written by hand (MS-XLS, MS-CFB).
* :func:`zipcrypto_zip` – a ZIP whose member is encrypted with traditional PKWARE encryption
  (what "password-protected" exports use), built by hand because ``zipfile`` cannot encrypt.
"""

from __future__ import annotations

import struct
import zlib

# ----------------------------------------------------------------------------- BIFF8 / OLE2
_ENDOFCHAIN, _FATSECT, _FREESECT, _NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF, 0xFFFFFFFF


def _rec(rtype: int, data: bytes) -> bytes:
    assert len(data) <= 8224
    return struct.pack("<HH", rtype, len(data)) + data


def _bof(dt: int) -> bytes:
    return _rec(0x0809, struct.pack("<HHHHII", 0x0600, dt, 0x0DBB, 0x07CC, 0, 0x06))


def _xl_unicode(text: str) -> bytes:  # XLUnicodeString, always stored as UTF-16LE
    return struct.pack("<HB", len(text.encode("utf-16-le")) // 2, 1) + text.encode("utf-16-le")


def _workbook_stream(rows: list[list[str | None]], sheet: str) -> bytes:
    strings: list[str] = []
    index: dict[str, int] = {}
    cells = []
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v is None:
                continue
            if v not in index:
                index[v] = len(strings)
                strings.append(v)
            cells.append((r, c, index[v]))
    sst = struct.pack("<II", len(cells), len(strings)) + b"".join(_xl_unicode(s) for s in strings)
    name = sheet.encode("utf-16-le")

    def globals_part(sheet_pos: int) -> bytes:
        return b"".join([
            _bof(0x0005),
            _rec(0x0042, struct.pack("<H", 1200)),  # CODEPAGE: UTF-16
            _rec(0x0085, struct.pack("<IBBBB", sheet_pos, 0, 0, len(name) // 2, 1) + name),  # BOUNDSHEET8
            _rec(0x00FC, sst),
            _rec(0x000A, b""),
        ])

    head = globals_part(0)
    assert len(head) == len(globals_part(1 << 20))  # fixed size, so the offset is right
    width = max((len(r) for r in rows), default=0)
    body = [_bof(0x0010), _rec(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))]
    for r, c, i in cells:
        body.append(_rec(0x00FD, struct.pack("<HHHI", r, c, 0, i)))  # LABELSST
    body.append(_rec(0x000A, b""))
    return globals_part(len(head)) + b"".join(body)


def _dir_entry(name: str, etype: int, child: int, start: int, size: int) -> bytes:
    n = (name + "\0").encode("utf-16-le") if name else b""
    return (n.ljust(64, b"\0") + struct.pack("<HBBIII", len(n), etype, 1, _NOSTREAM, _NOSTREAM, child)
            + b"\0" * 16 + struct.pack("<IQQIQ", 0, 0, 0, start, size))


def biff8_xls(rows: list[list[str | None]], sheet: str = "Sheet1") -> bytes:
    """A genuine BIFF8 ``.xls`` holding ``rows`` (text cells) on one worksheet."""
    stream = _workbook_stream(rows, sheet)
    size = max(len(stream), 4096)  # at or above the mini-stream cutoff: plain FAT sectors only
    data = stream.ljust(-(-size // 512) * 512, b"\0")
    n_data = len(data) // 512
    assert 2 + n_data <= 128, "one FAT sector is enough for small test workbooks"
    fat = [_FATSECT, _ENDOFCHAIN] + [i + 1 for i in range(2, 2 + n_data - 1)] + [_ENDOFCHAIN]
    fat += [_FREESECT] * (128 - len(fat))
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6) + b"\0" * 6
              # dir sectors (v3: 0), FAT sectors, first dir sector, txn, mini cutoff, mini FAT start/count,
              # DIFAT start/count; then the 109 DIFAT slots, the first naming sector 0 (the FAT)
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, _ENDOFCHAIN, 0, _ENDOFCHAIN, 0)
              + struct.pack("<109I", 0, *([_FREESECT] * 108)))
    assert len(header) == 512
    directory = (_dir_entry("Root Entry", 5, 1, _ENDOFCHAIN, 0) + _dir_entry("Workbook", 2, _NOSTREAM, 2, size)
                 + _dir_entry("", 0, _NOSTREAM, 0, 0) * 2)
    return header + struct.pack("<128I", *fat) + directory + data


# ------------------------------------------------------------------------ ZipCrypto
def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC = _crc_table()


def _zipcrypto(data: bytes, password: bytes, check: int) -> bytes:
    k = [0x12345678, 0x23456789, 0x34567890]

    def update(b: int) -> None:
        k[0] = (k[0] >> 8) ^ _CRC[(k[0] ^ b) & 0xFF]
        k[1] = ((k[1] + (k[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        k[2] = (k[2] >> 8) ^ _CRC[(k[2] ^ (k[1] >> 24)) & 0xFF]

    for b in password:
        update(b)
    out = bytearray()
    for p in bytes(range(11)) + bytes([check]) + data:
        t = (k[2] | 2) & 0xFFFF
        out.append(p ^ (((t * (t ^ 1)) >> 8) & 0xFF))
        update(p)
    return bytes(out)


def zipcrypto_zip(name: str, payload: bytes, password: bytes = b"secret") -> bytes:
    """A one-member ZIP whose member is stored with traditional PKWARE encryption."""
    crc = zlib.crc32(payload) & 0xFFFFFFFF
    enc = _zipcrypto(payload, password, crc >> 24)
    fname = name.encode("utf-8")
    flags = 0x1 | 0x800
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 0, 0, 0x21, crc, len(enc), len(payload),
                        len(fname), 0) + fname
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, 0, 0, 0x21, crc, len(enc),
                          len(payload), len(fname), 0, 0, 0, 0, 0, 0) + fname
    body = local + enc
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(body), 0)
    return body + central + end
