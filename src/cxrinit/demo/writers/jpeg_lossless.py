"""A small JPEG Lossless encoder (ITU T.81 process 14, first-order prediction: DICOM's
"JPEG Lossless, Non-Hierarchical, First-Order Prediction", 1.2.840.10008.1.2.4.70).

Neither pydicom nor pylibjpeg ships an encoder for this transfer syntax, yet many archives
hold it, so the demo encodes it itself. Vectorized with numpy: a 768x768 16-bit image takes
a fraction of a second. Decoders (pylibjpeg-libjpeg, GDCM) read the result.
"""

from __future__ import annotations

import numpy as np

_MAX_CATEGORY = 16  # difference categories 0..16 (T.81 table H.2)


def _code_lengths(freq: np.ndarray) -> tuple[list[int], list[int]]:
    """BITS (counts per length 1..16) and HUFFVAL for ``freq``, by T.81 Annex K.2."""
    n = len(freq)
    f = [int(x) for x in freq] + [1]  # one reserved symbol keeps the all-ones code unused
    size = [0] * (n + 1)
    others = [-1] * (n + 1)
    while True:
        live = [i for i in range(n + 1) if f[i] > 0]
        if len(live) < 2:
            break
        # least frequent first; among ties the larger symbol, as Annex K does
        v1 = min(live, key=lambda i: (f[i], -i))
        v2 = min((i for i in live if i != v1), key=lambda i: (f[i], -i))
        f[v1] += f[v2]
        f[v2] = 0
        size[v1] += 1
        while others[v1] >= 0:
            v1 = others[v1]
            size[v1] += 1
        others[v1] = v2
        size[v2] += 1
        while others[v2] >= 0:
            v2 = others[v2]
            size[v2] += 1
    bits = [0] * 33
    for s in size:
        if s:
            bits[s] += 1
    for i in range(32, 16, -1):  # limit code lengths to 16 (Annex K, Figure K.3)
        while bits[i] > 0:
            j = i - 2
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2
            bits[i - 1] += 1
            bits[j + 1] += 2
            bits[j] -= 1
    i = 16
    while bits[i] == 0:
        i -= 1
    bits[i] -= 1  # drop the reserved symbol's code
    huffval = [s for length in range(1, 33) for s in range(n) if size[s] == length]
    return bits[1:17], huffval


def _code_table(bits: list[int], huffval: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-symbol code and code length from BITS / HUFFVAL (T.81 Annex C)."""
    codes = np.zeros(_MAX_CATEGORY + 1, dtype=np.uint64)
    sizes = np.zeros(_MAX_CATEGORY + 1, dtype=np.uint64)
    code = 0
    k = 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[huffval[k]] = code
            sizes[huffval[k]] = length
            code += 1
            k += 1
        code <<= 1
    return codes, sizes


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def encode(image: np.ndarray, precision: int) -> bytes:
    """Encode a 2-D unsigned integer image as a JPEG Lossless SV1 codestream.

    ``precision`` (2..16) is the sample precision written to the frame header; every value
    must be below ``2**precision``.
    """
    if image.ndim != 2 or image.dtype.kind != "u":
        raise ValueError(f"JPEG Lossless: need a 2-D unsigned image, got {image.dtype} {image.shape}")
    if not 2 <= precision <= 16:
        raise ValueError(f"JPEG Lossless: precision must be 2..16, got {precision}")
    h, w = image.shape
    a = image.astype(np.int64)
    if a.size and int(a.max()) >= 1 << precision:
        raise ValueError(f"JPEG Lossless: value {int(a.max())} does not fit {precision} bits")

    # predictor 1 (left neighbour); first row from the left, first column from above
    pred = np.empty_like(a)
    pred[0, 0] = 1 << (precision - 1)
    pred[0, 1:] = a[0, :-1]
    pred[1:, 0] = a[:-1, 0]
    pred[1:, 1:] = a[1:, :-1]
    diff = ((a - pred + 32768) % 65536 - 32768).ravel()  # differences are taken modulo 2**16

    mag = np.abs(diff)
    cat = np.zeros(diff.shape, dtype=np.int64)
    nz = mag > 0
    cat[nz] = np.floor(np.log2(mag[nz])).astype(np.int64) + 1
    cat[diff == -32768] = 16  # the one difference of category 16; it carries no extra bits
    extra_len = np.where(cat == 16, 0, cat)
    extra = np.where(diff < 0, diff - 1, diff) & ((np.int64(1) << extra_len) - 1)

    freq = np.bincount(cat, minlength=_MAX_CATEGORY + 1)
    bits, huffval = _code_lengths(freq)
    codes, sizes = _code_table(bits, huffval)

    value = (codes[cat] << extra_len.astype(np.uint64)) | extra.astype(np.uint64)
    length = sizes[cat].astype(np.int64) + extra_len  # at most 16 + 15 = 31 bits per sample
    # pack MSB-first into big-endian 32-bit words: a code starting at bit offset o of word w
    # spans words w and w+1 of a 64-bit window; codes never overlap, so summing is OR-ing
    pos = np.cumsum(length) - length
    total = int(pos[-1] + length[-1])
    word, offset = pos >> 5, pos & 31
    window = value << (64 - offset - length).astype(np.uint64)
    n_words = (total >> 5) + 2
    words = (np.bincount(word, weights=(window >> np.uint64(32)).astype(np.float64), minlength=n_words)
             + np.bincount(word + 1, weights=(window & np.uint64(0xFFFFFFFF)).astype(np.float64), minlength=n_words))
    data = np.frombuffer(words.astype(np.uint64).astype(">u4").tobytes(), dtype=np.uint8)[: (total + 7) // 8].copy()
    pad = (-total) % 8
    if pad:
        data[-1] |= (1 << pad) - 1  # pad the last byte with 1-bits (T.81 F.1.2.3)
    ff = np.flatnonzero(data == 0xFF)
    data = np.insert(data, ff + 1, 0)  # byte stuffing

    out = bytearray(b"\xff\xd8")
    out += _segment(0xC4, bytes([0x00]) + bytes(bits) + bytes(huffval))
    out += _segment(0xC3, bytes([precision]) + h.to_bytes(2, "big") + w.to_bytes(2, "big") + b"\x01\x01\x11\x00")
    out += _segment(0xDA, b"\x01\x01\x00\x01\x00\x00")  # 1 component, table 0, Ss=1 (predictor), Se=0, Pt=0
    out += data.tobytes()
    out += b"\xff\xd9"
    return bytes(out)
