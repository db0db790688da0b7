#!/usr/bin/env python3
"""bundletool.py: reads and damages plain cafesync bundles for bundle.t.

A plain bundle (docs/formats.md) is a MessagePack header map, then one
2-array [bin E, bin sig64] per commit.  This parses that framing by hand (no
msgpack module) and prints or rewrites it:

  info FILE                 "header END", then per item (1-based):
                            "N start end e_start e_len sig_start origin seq"
  flipsig IN OUT K          flip one byte in the signature of item K
  flipbody IN OUT K MARKER  flip one bit in the first MARKER inside E of item K
                            (an ASCII letter stays a letter: E still decodes)
  find FILE MARKER          the 1-based items whose E contains MARKER
  drop IN OUT K             remove item K
  swap IN OUT K             swap items K and K+1
  cut IN OUT K              cut the file in the middle of item K's E
"""
import struct
import sys


def skip(b, p):
    """Returns the offset just past the MessagePack object at p."""
    t = b[p]
    if t <= 0x7f or t >= 0xe0 or t in (0xc0, 0xc2, 0xc3):
        return p + 1
    if 0x80 <= t <= 0x8f:
        n, p = t & 0x0f, p + 1
        for _ in range(2 * n):
            p = skip(b, p)
        return p
    if 0x90 <= t <= 0x9f:
        n, p = t & 0x0f, p + 1
        for _ in range(n):
            p = skip(b, p)
        return p
    if 0xa0 <= t <= 0xbf:
        return p + 1 + (t & 0x1f)
    fixed = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4,
             0xd3: 8, 0xca: 4, 0xcb: 8}
    if t in fixed:
        return p + 1 + fixed[t]
    lens = {0xc4: 1, 0xc5: 2, 0xc6: 4, 0xd9: 1, 0xda: 2, 0xdb: 4}
    if t in lens:
        w = lens[t]
        n = int.from_bytes(b[p + 1:p + 1 + w], 'big')
        return p + 1 + w + n
    if t in (0xdc, 0xdd, 0xde, 0xdf):
        w = 2 if t in (0xdc, 0xde) else 4
        n = int.from_bytes(b[p + 1:p + 1 + w], 'big')
        if t in (0xde, 0xdf):
            n *= 2
        p += 1 + w
        for _ in range(n):
            p = skip(b, p)
        return p
    raise ValueError('unsupported msgpack byte 0x%02x at %d' % (t, p))


def read_uint(b, p):
    t = b[p]
    if t <= 0x7f:
        return t, p + 1
    w = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8}[t]
    return int.from_bytes(b[p + 1:p + 1 + w], 'big'), p + 1 + w


def parse(b):
    """Returns (header_end, items)."""
    hend = skip(b, 0)
    items = []
    p = hend
    while p < len(b):
        start = p
        if b[p] != 0x92:
            raise ValueError('item at %d does not start with 0x92' % p)
        p += 1
        t = b[p]
        w = {0xc4: 1, 0xc5: 2, 0xc6: 4}[t]
        elen = int.from_bytes(b[p + 1:p + 1 + w], 'big')
        e_start = p + 1 + w
        p = e_start + elen
        if b[p:p + 2] != b'\xc4\x40':
            raise ValueError('signature of item at %d is not bin 64' % start)
        sig_start = p + 2
        p = sig_start + 64
        e = b[e_start:e_start + elen]
        # E = [version, origin bin32, seq, prev, hlc, ops]
        q = 1 if 0x90 <= e[0] <= 0x9f else (3 if e[0] == 0xdc else 5)
        q = skip(e, q)                    # version
        assert e[q] == 0xc4 and e[q + 1] == 32, 'origin is not bin 32'
        origin = e[q + 2:q + 34].hex()
        seq, _ = read_uint(e, q + 34)
        items.append(dict(start=start, end=p, e_start=e_start, e_len=elen,
                          sig_start=sig_start, origin=origin, seq=seq))
    return hend, items


def main():
    cmd = sys.argv[1]
    b = bytearray(open(sys.argv[2], 'rb').read())
    hend, items = parse(b)
    if cmd == 'info':
        print('header', hend)
        for i, it in enumerate(items, 1):
            print(i, it['start'], it['end'], it['e_start'], it['e_len'],
                  it['sig_start'], it['origin'], it['seq'])
        return
    if cmd == 'find':
        m = sys.argv[3].encode()
        for i, it in enumerate(items, 1):
            if m in b[it['e_start']:it['e_start'] + it['e_len']]:
                print(i)
        return
    out, k = sys.argv[3], int(sys.argv[4])
    it = items[k - 1]
    if cmd == 'flipsig':
        b[it['sig_start'] + 17] ^= 0x40
    elif cmd == 'flipbody':
        m = sys.argv[5].encode()
        e = b[it['e_start']:it['e_start'] + it['e_len']]
        off = e.find(m)
        if off < 0:
            raise SystemExit('marker not in item %d' % k)
        b[it['e_start'] + off + len(m) - 1] ^= 0x01
    elif cmd == 'drop':
        b = b[:it['start']] + b[it['end']:]
    elif cmd == 'swap':
        nx = items[k]
        b = (b[:it['start']] + b[nx['start']:nx['end']] +
             b[it['start']:it['end']] + b[nx['end']:])
    elif cmd == 'cut':
        b = b[:it['e_start'] + it['e_len'] // 2]
    else:
        raise SystemExit('unknown command ' + cmd)
    open(out, 'wb').write(bytes(b))


if __name__ == '__main__':
    main()
