#!/usr/bin/env python3
"""h2_front.py — an HTTP/2 front for llmtrace-sim in the replay tests (replay_http2.sh).

llmtrace-replay --http2 asks libcurl for HTTP/2 over TLS (ALPN "h2"), and llmtrace-sim speaks
HTTP/1.1 only. No HTTP/2 server is available to the tests (no nghttpx, no Python h2 package),
so this is a small gateway written from RFC 9113 (HTTP/2) and RFC 7541 (HPACK) with Python's
standard library alone. It accepts TLS on 127.0.0.1 (kernel-chosen port, written atomically to
PORT_FILE) with the given certificate, offers only "h2" in ALPN and answers a ClientHello that
does not offer it with the fatal no_application_protocol alert (RFC 7301, 3.2). Each HTTP/2
stream is forwarded as an HTTP/1.1 request over its own connection to 127.0.0.1:BACKEND_PORT
(Content-Length body, Host from :authority, hop-by-hop headers dropped), and the response is
streamed back as it arrives: HEADERS (literals without indexing, no Huffman), then one or more
DATA frames per piece of body read (chunked transfer coding removed), within the peer's flow-
control windows and SETTINGS_MAX_FRAME_SIZE, END_STREAM at the end. Streams of one connection
progress concurrently.

Per connection it counts the streams carried and the most open at once, and it says how many
streams are waiting now for the peer to open their own window; the JSON stats line
is written (atomically) to STATS_FILE on SIGUSR1 and on SIGTERM, which then ends the process.
Everything is bounded: header blocks (64 KiB), decoded header lists, request bodies, streams
per connection, waits.

usage: h2_front.py CERT KEY BACKEND_PORT PORT_FILE STATS_FILE
       h2_front.py --self-test      (HPACK decoder against RFC 7541 Appendix C; prints "ok")"""
import asyncio
import collections
import json
import os
import signal
import socket
import ssl
import struct
import sys

# ---- limits -------------------------------------------------------------------------------
MAX_HEADER_BLOCK = 64 * 1024        # compressed header block (HEADERS + CONTINUATION)
MAX_HEADER_LIST = 256 * 1024        # decoded: sum of name + value + 32 per field
MAX_FIELDS = 1000
MAX_REQUEST_BODY = 8 * 1024 * 1024
MAX_STREAMS = 100                   # advertised SETTINGS_MAX_CONCURRENT_STREAMS
MAX_FRAME_RECV = 16384              # our SETTINGS_MAX_FRAME_SIZE (the default)
HEADER_TABLE_SIZE = 4096            # our SETTINGS_HEADER_TABLE_SIZE (the default)
BACKEND_LINE_LIMIT = 64 * 1024      # status line + headers from the backend, a chunk-size line
READ_PIECE = 65536
IDLE_TIMEOUT = 300.0                # a connection with nothing to read for this long is closed
BACKEND_TIMEOUT = 120.0             # per read from the backend
WINDOW_WAIT = 30.0                  # waiting for the peer to open a flow-control window
HANDSHAKE_TIMEOUT = 10.0
MAX_CONN_RECORDS = 10000

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types (RFC 9113 6)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
# flags
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20
# error codes (RFC 9113 7)
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, \
    FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, \
    ENHANCE_YOUR_CALM = range(12)
# settings
S_HEADER_TABLE_SIZE, S_ENABLE_PUSH, S_MAX_CONCURRENT_STREAMS, S_INITIAL_WINDOW_SIZE, \
    S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE = range(1, 7)
MAX_WINDOW = (1 << 31) - 1

HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
              b"upgrade", b"te"}


# ---- HPACK (RFC 7541) ---------------------------------------------------------------------

# Appendix A: the static table, indices 1..61.
STATIC_TABLE = [(n.encode(), v.encode()) for n, v in [
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
    (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
    (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
    (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""),
    ("accept", ""), ("access-control-allow-origin", ""), ("age", ""), ("allow", ""),
    ("authorization", ""), ("cache-control", ""), ("content-disposition", ""),
    ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
    ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
    ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""),
    ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""),
    ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""),
    ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
    ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", "")]]

# Appendix B: the Huffman code, (code, bit length) for symbols 0..255 and EOS (256).
HUFFMAN_CODE = (
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28),
    (0xfffffe4, 28), (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28),
    (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28),
    (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28),
    (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28),
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28),
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28),
    (0xffffff8, 28), (0xffffff9, 28), (0xffffffa, 28), (0xffffffb, 28),
    (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),            # ' ' ! " #
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11),             # $ % & '
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11),            # ( ) * +
    (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),                  # , - . /
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6),                     # 0 1 2 3
    (0x1a, 6), (0x1b, 6), (0x1c, 6), (0x1d, 6),                  # 4 5 6 7
    (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),                  # 8 9 : ;
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10),           # < = > ?
    (0x1ffa, 13), (0x21, 6), (0x5d, 7), (0x5e, 7),               # @ A B C
    (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),                  # D E F G
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7),                  # H I J K
    (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7),                  # L M N O
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7),                  # P Q R S
    (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7),                  # T U V W
    (0xfc, 8), (0x73, 7), (0xfd, 8), (0x1ffb, 13),               # X Y Z [
    (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),        # \ ] ^ _
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5),                 # ` a b c
    (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6),                   # d e f g
    (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7),                   # h i j k
    (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5),                   # l m n o
    (0x2b, 6), (0x76, 7), (0x2c, 6), (0x8, 5),                   # p q r s
    (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),                   # t u v w
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15),               # x y z {
    (0x7fc, 11), (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28),    # | } ~ DEL
    (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23),
    (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23),
    (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23),
    (0xffffee, 24), (0x7fffe1, 23), (0x7fffe2, 23), (0x7fffe3, 23),
    (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23),
    (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24),
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22),
    (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24),
    (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23), (0x7fffec, 23),
    (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23),
    (0xfffea, 20), (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22),
    (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19),
    (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25),
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27),
    (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25),
    (0x7fff2, 19), (0x1fffe3, 21), (0x3ffffe6, 26), (0x7ffffe0, 27),
    (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24),
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26),
    (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27),
    (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21),
    (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23),
    (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25), (0x1ffffef, 25),
    (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26),
    (0x7ffffe7, 27), (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27),
    (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27),
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26),
    (0x3fffffff, 30),                                            # EOS
)
EOS = 256
# decoding: (bit length, code) -> symbol
HUFFMAN_DECODE = {(n, c): sym for sym, (c, n) in enumerate(HUFFMAN_CODE)}


class HpackError(Exception):
    """A header block that cannot be decoded: a connection error (RFC 9113 4.3)."""

    def __init__(self, msg, code=COMPRESSION_ERROR):
        super().__init__(msg)
        self.code = code


def huffman_decode(data):
    """RFC 7541 5.2: codes are read most significant bit first; the last octet is padded with
    the high bits of EOS (all ones), at most 7 bits; a decoded EOS is an error."""
    out = bytearray()
    code = length = 0
    for byte in data:
        for shift in range(7, -1, -1):
            code = (code << 1) | ((byte >> shift) & 1)
            length += 1
            sym = HUFFMAN_DECODE.get((length, code))
            if sym is not None:
                if sym == EOS:
                    raise HpackError("Huffman: EOS in a string")
                out.append(sym)
                code = length = 0
            elif length >= 30:
                raise HpackError("Huffman: no such code")
    if length > 7 or code != (1 << length) - 1:
        raise HpackError("Huffman: bad padding")
    return bytes(out)


def decode_int(buf, pos, prefix):
    """RFC 7541 5.1: an integer with an N-bit prefix starting at buf[pos]; returns (value,
    next pos). Values are capped at 2^28 (five continuation octets)."""
    if pos >= len(buf):
        raise HpackError("integer: truncated")
    mask = (1 << prefix) - 1
    value = buf[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    shift = 0
    for _ in range(5):
        if pos >= len(buf):
            raise HpackError("integer: truncated")
        b = buf[pos]
        pos += 1
        value += (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return value, pos
    raise HpackError("integer: too large")


def decode_string(buf, pos):
    """RFC 7541 5.2: H bit, 7-bit prefix length, octets (Huffman-coded when H)."""
    if pos >= len(buf):
        raise HpackError("string: truncated")
    huff = buf[pos] & 0x80
    n, pos = decode_int(buf, pos, 7)
    if n > len(buf) - pos:
        raise HpackError("string: longer than the block")
    raw = bytes(buf[pos:pos + n])
    return (huffman_decode(raw) if huff else raw), pos + n


class HpackDecoder:
    """RFC 7541 decoder: static and dynamic table (with size updates up to the limit we
    advertised), indexed fields, the three literal forms, Huffman strings."""

    def __init__(self, limit=HEADER_TABLE_SIZE):
        self.limit = limit          # SETTINGS_HEADER_TABLE_SIZE we sent
        self.max_size = limit       # current maximum set by the encoder
        self.size = 0
        self.table = collections.deque()  # newest first: index 62 is table[0]

    def _evict(self, room):
        while self.table and self.size + room > self.max_size:
            n, v = self.table.pop()
            self.size -= len(n) + len(v) + 32

    def _add(self, name, value):
        sz = len(name) + len(value) + 32
        if sz > self.max_size:       # 4.4: empties the table, not an error
            self.table.clear()
            self.size = 0
            return
        self._evict(sz)
        self.table.appendleft((name, value))
        self.size += sz

    def _get(self, idx):
        if idx == 0:
            raise HpackError("index 0")
        if idx <= len(STATIC_TABLE):
            return STATIC_TABLE[idx - 1]
        i = idx - len(STATIC_TABLE) - 1
        if i >= len(self.table):
            raise HpackError("index %d beyond the dynamic table" % idx)
        return self.table[i]

    def decode(self, block):
        fields = []
        total = 0
        pos = 0
        while pos < len(block):      # every representation consumes at least one octet
            b = block[pos]
            if b & 0x80:             # 6.1 indexed field
                idx, pos = decode_int(block, pos, 7)
                name, value = self._get(idx)
            elif b & 0xc0 == 0x40:   # 6.2.1 literal with incremental indexing
                idx, pos = decode_int(block, pos, 6)
                if idx:
                    name = self._get(idx)[0]
                else:
                    name, pos = decode_string(block, pos)
                value, pos = decode_string(block, pos)
                self._add(name, value)
            elif b & 0xe0 == 0x20:   # 6.3 dynamic table size update
                if fields:
                    raise HpackError("table size update after a field")
                size, pos = decode_int(block, pos, 5)
                if size > self.limit:
                    raise HpackError("table size %d over the limit %d" % (size, self.limit))
                self.max_size = size
                self._evict(0)
                continue
            else:                    # 6.2.2 without indexing (0000), 6.2.3 never indexed (0001)
                idx, pos = decode_int(block, pos, 4)
                if idx:
                    name = self._get(idx)[0]
                else:
                    name, pos = decode_string(block, pos)
                value, pos = decode_string(block, pos)
            total += len(name) + len(value) + 32
            if total > MAX_HEADER_LIST or len(fields) >= MAX_FIELDS:
                raise HpackError("header list too large", ENHANCE_YOUR_CALM)
            fields.append((name, value))
        return fields


def encode_int(value, prefix, first=0):
    mask = (1 << prefix) - 1
    if value < mask:
        return bytes([first | value])
    out = bytearray([first | mask])
    value -= mask
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_literal(name, value):
    """6.2.2 literal without indexing, new name, both strings raw (H = 0)."""
    return (b"\x00" + encode_int(len(name), 7) + name + encode_int(len(value), 7) + value)


def encode_status(status):
    """6.2.2 literal without indexing, name :status from static index 8."""
    v = b"%d" % status
    return encode_int(8, 4) + encode_int(len(v), 7) + v


# ---- HTTP/2 connection --------------------------------------------------------------------

class ConnError(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


class StreamGone(Exception):
    """The stream was reset, or its connection closed: stop working on it."""


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, sid) + payload


class Stream:
    __slots__ = ("sid", "fields", "body", "ended", "send_win", "recv_win", "task", "reset",
                 "replied")

    def __init__(self, sid, send_win):
        self.sid = sid
        self.fields = []
        self.body = bytearray()
        self.ended = False          # END_STREAM received
        self.send_win = send_win
        self.recv_win = 65535       # our SETTINGS_INITIAL_WINDOW_SIZE (the default)
        self.task = None
        self.reset = False
        self.replied = False        # HEADERS sent


class H2Conn:
    def __init__(self, front, reader, writer):
        self.front = front
        self.r = reader
        self.w = writer
        self.dec = HpackDecoder()
        self.streams = {}
        self.last_sid = 0
        self.peer_max_frame = 16384
        self.peer_init_win = 65535
        self.send_win = 65535       # connection window towards the peer
        self.recv_win = 65535
        self.win_ev = asyncio.Event()
        self.wlock = asyncio.Lock()
        self.closed = False
        self.hdr_sid = 0            # a header block in progress (CONTINUATION expected)
        self.hdr_buf = bytearray()
        self.hdr_end_stream = False
        self.n_streams = 0
        self.max_open = 0
        self.peer_goaway = False

    # -- output --
    def _window_moved(self):
        ev, self.win_ev = self.win_ev, asyncio.Event()
        ev.set()

    async def _send(self, data):
        if self.closed:
            raise StreamGone()
        self.w.write(data)
        async with self.wlock:
            await self.w.drain()

    def _send_now(self, data):
        """Queues a frame without waiting (control frames from the reading loop)."""
        if not self.closed:
            self.w.write(data)

    async def send_headers(self, st, block, end):
        """HEADERS + CONTINUATION as needed, written in one piece so nothing interleaves."""
        if st.reset:
            raise StreamGone()
        n = self.peer_max_frame
        parts = [block[i:i + n] for i in range(0, len(block), n)] or [b""]
        out = bytearray()
        for i, part in enumerate(parts):
            flags = END_HEADERS if i == len(parts) - 1 else 0
            if i == 0:
                out += frame(HEADERS, flags | (END_STREAM if end else 0), st.sid, part)
            else:
                out += frame(CONTINUATION, flags, st.sid, part)
        st.replied = True
        await self._send(bytes(out))

    async def send_data(self, st, data, end):
        """DATA frames within both send windows and the peer's frame size."""
        mv = memoryview(data)
        off = 0
        while True:
            if st.reset or self.closed:
                raise StreamGone()
            left = len(mv) - off
            n = min(left, self.peer_max_frame, self.send_win, st.send_win)
            if left and n <= 0:
                held = st.send_win <= 0     # the peer holds this stream back (not the others)
                self.front.stream_window_held += held
                ev = self.win_ev
                try:
                    await asyncio.wait_for(ev.wait(), WINDOW_WAIT)
                except asyncio.TimeoutError:
                    self.reset_stream(st, FLOW_CONTROL_ERROR)
                    raise StreamGone()
                finally:
                    self.front.stream_window_held -= held
                continue
            self.send_win -= n
            st.send_win -= n
            last = off + n == len(mv)
            await self._send(frame(DATA, END_STREAM if end and last else 0, st.sid,
                                   bytes(mv[off:off + n])))
            off += n
            if last:
                return

    def reset_stream(self, st, code):
        if not st.reset:
            st.reset = True
            self._send_now(frame(RST_STREAM, 0, st.sid, struct.pack(">I", code)))
        self.streams.pop(st.sid, None)
        if st.task and st.task is not asyncio.current_task():
            st.task.cancel()        # it may be waiting on the backend
        self._window_moved()

    def stream_done(self, st):
        self.streams.pop(st.sid, None)

    # -- input --
    async def run(self):
        try:
            pre = await asyncio.wait_for(self.r.readexactly(len(PREFACE)), HANDSHAKE_TIMEOUT)
            if pre != PREFACE:
                raise ConnError(PROTOCOL_ERROR, "no connection preface")
            self._send_now(frame(SETTINGS, 0, 0, struct.pack(
                ">HIHI", S_MAX_CONCURRENT_STREAMS, MAX_STREAMS, S_ENABLE_PUSH, 0)))
            while True:   # one frame per turn, until the peer closes or errs
                head = await asyncio.wait_for(self.r.readexactly(9), IDLE_TIMEOUT)
                length = int.from_bytes(head[:3], "big")
                ftype, flags = head[3], head[4]
                sid = int.from_bytes(head[5:9], "big") & 0x7fffffff
                if length > MAX_FRAME_RECV:
                    raise ConnError(FRAME_SIZE_ERROR, "frame of %d octets" % length)
                payload = await asyncio.wait_for(self.r.readexactly(length), IDLE_TIMEOUT)
                if self.hdr_sid and (ftype != CONTINUATION or sid != self.hdr_sid):
                    raise ConnError(PROTOCOL_ERROR, "header block interrupted")
                self.on_frame(ftype, flags, sid, payload)
                async with self.wlock:
                    await self.w.drain()
        except ConnError as e:
            self.front.count("protocol_errors")
            self.front.log("connection error %d: %s" % (e.code, e))
            self._send_now(frame(GOAWAY, 0, 0, struct.pack(">II", self.last_sid, e.code)))
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError,
                ssl.SSLError):
            pass
        finally:
            await self.close()

    async def close(self):
        self.closed = True
        self._window_moved()
        tasks = [s.task for s in self.streams.values() if s.task]
        for s in list(self.streams.values()):
            s.reset = True
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        try:
            self.w.close()
            await asyncio.wait_for(self.w.wait_closed(), 5)
        except (asyncio.TimeoutError, ConnectionError, OSError, ssl.SSLError):
            pass

    def on_frame(self, ftype, flags, sid, p):
        if ftype == DATA:
            self.on_data(flags, sid, p)
        elif ftype == HEADERS:
            self.on_headers(flags, sid, p)
        elif ftype == CONTINUATION:
            if not self.hdr_sid:
                raise ConnError(PROTOCOL_ERROR, "CONTINUATION without HEADERS")
            self.add_block(p, flags)
        elif ftype == PRIORITY:
            if sid == 0:
                raise ConnError(PROTOCOL_ERROR, "PRIORITY on stream 0")
            if len(p) != 5:
                st = self.streams.get(sid)
                if st:
                    self.reset_stream(st, FRAME_SIZE_ERROR)
        elif ftype == RST_STREAM:
            if sid == 0 or len(p) != 4:
                raise ConnError(PROTOCOL_ERROR if sid == 0 else FRAME_SIZE_ERROR, "RST_STREAM")
            if sid > self.last_sid:
                raise ConnError(PROTOCOL_ERROR, "RST_STREAM on an idle stream")
            st = self.streams.pop(sid, None)
            if st:
                st.reset = True
                if st.task:
                    st.task.cancel()
                self._window_moved()
        elif ftype == SETTINGS:
            self.on_settings(flags, sid, p)
        elif ftype == PING:
            if sid != 0:
                raise ConnError(PROTOCOL_ERROR, "PING on a stream")
            if len(p) != 8:
                raise ConnError(FRAME_SIZE_ERROR, "PING of %d octets" % len(p))
            if not flags & ACK:
                self._send_now(frame(PING, ACK, 0, p))
        elif ftype == GOAWAY:
            if sid != 0:
                raise ConnError(PROTOCOL_ERROR, "GOAWAY on a stream")
            self.peer_goaway = True   # the peer starts no more streams; ours run to the end
        elif ftype == WINDOW_UPDATE:
            if len(p) != 4:
                raise ConnError(FRAME_SIZE_ERROR, "WINDOW_UPDATE of %d octets" % len(p))
            inc = int.from_bytes(p, "big") & 0x7fffffff
            if sid == 0:
                if inc == 0:
                    raise ConnError(PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
                self.send_win += inc
                if self.send_win > MAX_WINDOW:
                    raise ConnError(FLOW_CONTROL_ERROR, "connection window overflow")
            else:
                st = self.streams.get(sid)
                if st:
                    if inc == 0:
                        self.reset_stream(st, PROTOCOL_ERROR)
                        return
                    st.send_win += inc
                    if st.send_win > MAX_WINDOW:
                        self.reset_stream(st, FLOW_CONTROL_ERROR)
                        return
            self._window_moved()
        elif ftype == PUSH_PROMISE:
            raise ConnError(PROTOCOL_ERROR, "PUSH_PROMISE from a client")
        # unknown frame types are ignored (RFC 9113 5.5)

    def on_settings(self, flags, sid, p):
        if sid != 0:
            raise ConnError(PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & ACK:
            if p:
                raise ConnError(FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            return
        if len(p) % 6:
            raise ConnError(FRAME_SIZE_ERROR, "SETTINGS of %d octets" % len(p))
        for i in range(0, len(p), 6):
            ident, value = struct.unpack(">HI", p[i:i + 6])
            if ident == S_ENABLE_PUSH and value > 1:
                raise ConnError(PROTOCOL_ERROR, "ENABLE_PUSH %d" % value)
            if ident == S_INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise ConnError(FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE %d" % value)
                delta = value - self.peer_init_win   # 6.9.2: applies to open streams too
                self.peer_init_win = value
                for st in self.streams.values():
                    st.send_win += delta
                    if st.send_win > MAX_WINDOW:
                        raise ConnError(FLOW_CONTROL_ERROR, "stream window overflow")
            elif ident == S_MAX_FRAME_SIZE:
                if not 16384 <= value <= 16777215:
                    raise ConnError(PROTOCOL_ERROR, "MAX_FRAME_SIZE %d" % value)
                self.peer_max_frame = value
            # HEADER_TABLE_SIZE: our encoder never uses the dynamic table; others: advisory
        self._send_now(frame(SETTINGS, ACK, 0))
        self._window_moved()

    def on_headers(self, flags, sid, p):
        if sid == 0:
            raise ConnError(PROTOCOL_ERROR, "HEADERS on stream 0")
        pos, end = 0, len(p)
        if flags & PADDED:
            if not p:
                raise ConnError(PROTOCOL_ERROR, "padding without its length")
            end -= p[0]
            pos = 1
        if flags & PRIO:
            pos += 5
        if pos > end:
            raise ConnError(PROTOCOL_ERROR, "padding longer than the frame")
        self.hdr_sid = sid
        self.hdr_buf = bytearray()
        self.hdr_end_stream = bool(flags & END_STREAM)
        self.add_block(p[pos:end], flags)

    def add_block(self, piece, flags):
        if len(self.hdr_buf) + len(piece) > MAX_HEADER_BLOCK:
            raise ConnError(ENHANCE_YOUR_CALM, "header block over %d octets" % MAX_HEADER_BLOCK)
        self.hdr_buf += piece
        if flags & END_HEADERS:
            sid, block = self.hdr_sid, bytes(self.hdr_buf)
            self.hdr_sid = 0
            self.hdr_buf = bytearray()
            try:
                fields = self.dec.decode(block)   # always, to keep the table in step
            except HpackError as e:
                raise ConnError(e.code, "HPACK: %s" % e)
            self.on_header_list(sid, fields, self.hdr_end_stream)

    def on_header_list(self, sid, fields, end_stream):
        st = self.streams.get(sid)
        if st:                                   # trailers
            if st.ended:
                raise ConnError(STREAM_CLOSED, "HEADERS after END_STREAM")
            if not end_stream:
                self.reset_stream(st, PROTOCOL_ERROR)
                return
            st.ended = True
            self.start(st)
            return
        if sid % 2 == 0 or sid <= self.last_sid:
            raise ConnError(PROTOCOL_ERROR, "HEADERS opening stream %d (last %d)"
                            % (sid, self.last_sid))
        self.last_sid = sid
        st = Stream(sid, self.peer_init_win)
        if len(self.streams) >= MAX_STREAMS:
            st.reset = True
            self._send_now(frame(RST_STREAM, 0, sid, struct.pack(">I", REFUSED_STREAM)))
            return
        self.streams[sid] = st
        self.n_streams += 1
        self.front.count("streams")
        self.max_open = max(self.max_open, len(self.streams))
        st.fields = fields
        st.ended = end_stream
        if end_stream:
            self.start(st)

    def on_data(self, flags, sid, p):
        if sid == 0:
            raise ConnError(PROTOCOL_ERROR, "DATA on stream 0")
        n = len(p)
        self.recv_win -= n
        if self.recv_win < 0:
            raise ConnError(FLOW_CONTROL_ERROR, "connection window exceeded")
        if n:   # all of it counts against the windows, padding too: give it back at once
            self._send_now(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", n)))
            self.recv_win += n
        st = self.streams.get(sid)
        if st is None or st.ended:
            if sid > self.last_sid:
                raise ConnError(PROTOCOL_ERROR, "DATA on an idle stream")
            self._send_now(frame(RST_STREAM, 0, sid, struct.pack(">I", STREAM_CLOSED)))
            return
        st.recv_win -= n
        if st.recv_win < 0:
            self.reset_stream(st, FLOW_CONTROL_ERROR)
            return
        pos, end = 0, n
        if flags & PADDED:
            if not p or p[0] >= n:
                raise ConnError(PROTOCOL_ERROR, "bad DATA padding")
            pos, end = 1, n - p[0]
        if len(st.body) + end - pos > MAX_REQUEST_BODY:
            self.reset_stream(st, REFUSED_STREAM)
            return
        st.body += p[pos:end]
        if flags & END_STREAM:
            st.ended = True
            self.start(st)
        elif n:
            self._send_now(frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", n)))
            st.recv_win += n

    def start(self, st):
        st.task = asyncio.get_running_loop().create_task(self.proxy(st))

    # -- a stream's exchange with the backend --
    async def proxy(self, st):
        bw = None
        try:
            req = self.http1_request(st)
            if req is None:
                self.reset_stream(st, PROTOCOL_ERROR)
                return
            method, data = req
            br, bw = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.front.backend,
                                        limit=BACKEND_LINE_LIMIT), BACKEND_TIMEOUT)
            bw.write(data)
            await bw.drain()
            status, headers = await self.read_head(br)
            # 9110 6.4.1: no content after HEAD, 204, 304
            no_body = method == b"HEAD" or status in (204, 304)
            te = b",".join(v for n, v in headers if n == b"transfer-encoding").lower()
            clen = [v for n, v in headers if n == b"content-length"]
            conn_opts = {o.strip() for n, v in headers if n == b"connection"
                         for o in v.lower().split(b",")}
            block = encode_status(status) + b"".join(
                encode_literal(n, v) for n, v in headers
                if n not in HOP_BY_HOP and n not in conn_opts)
            if no_body or (not te and clen and clen[0].strip() == b"0"):
                await self.send_headers(st, block, True)
                return
            await self.send_headers(st, block, False)
            if te:
                if not te.endswith(b"chunked"):
                    raise ValueError("transfer coding %r" % te)
                pieces = self.dechunk(br)
            elif clen:
                pieces = self.counted(br, int(clen[0]))
            else:
                pieces = self.until_eof(br)
            async for piece in pieces:
                await self.send_data(st, piece, False)
            await self.send_data(st, b"", True)
        except (StreamGone, asyncio.CancelledError):
            pass
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                asyncio.TimeoutError) as e:
            self.front.log("stream %d: backend: %r" % (st.sid, e))
            self.front.count("backend_errors")
            try:
                if not st.replied and not st.reset and not self.closed:
                    msg = b"bad gateway\n"
                    await self.send_headers(st, encode_status(502) + encode_literal(
                        b"content-type", b"text/plain") + encode_literal(
                        b"content-length", b"%d" % len(msg)), False)
                    await self.send_data(st, msg, True)
                elif not self.closed:
                    self.reset_stream(st, INTERNAL_ERROR)
            except StreamGone:
                pass
        finally:
            if bw is not None:
                bw.close()
            self.stream_done(st)

    def http1_request(self, st):
        """The HTTP/1.1 request for a stream's header list and body, or None when the list is
        malformed (RFC 9113 8.3: pseudo-headers first, known, once; no connection-specific
        fields; no CR, LF or NUL anywhere)."""
        pseudo = {}
        regular = []
        for name, value in st.fields:
            if any(c in name + value for c in b"\r\n\0") or not name:
                return None
            if name.startswith(b":"):
                if regular or name in pseudo or name not in (
                        b":method", b":scheme", b":authority", b":path"):
                    return None
                pseudo[name] = value
            else:
                if name != name.lower() or name in HOP_BY_HOP and not (
                        name == b"te" and value == b"trailers"):
                    return None
                regular.append((name, value))
        method = pseudo.get(b":method")
        path = pseudo.get(b":path")
        if not method or not path or b":scheme" not in pseudo or b" " in method + path:
            return None
        authority = pseudo.get(b":authority") or next(
            (v for n, v in regular if n == b"host"), b"")
        lines = [method + b" " + path + b" HTTP/1.1", b"Host: " + authority]
        cookies = []
        for name, value in regular:
            if name == b"cookie":      # 8.2.3: split cookie fields are joined again
                cookies.append(value)
            elif name not in (b"host", b"content-length", b"expect", b"te"):
                lines.append(name + b": " + value)
        if cookies:
            lines.append(b"cookie: " + b"; ".join(cookies))
        if st.body or method not in (b"GET", b"HEAD"):
            lines.append(b"Content-Length: %d" % len(st.body))
        lines.append(b"Connection: close")
        return method, b"\r\n".join(lines) + b"\r\n\r\n" + bytes(st.body)

    async def read_head(self, br):
        """Status and header fields (lower-case names) of the backend's final response."""
        for _ in range(10):          # interim 1xx responses are skipped, a few at most
            head = await asyncio.wait_for(br.readuntil(b"\r\n\r\n"), BACKEND_TIMEOUT)
            lines = head[:-4].split(b"\r\n")
            parts = lines[0].split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
                raise ValueError("status line %r" % lines[0][:100])
            status = int(parts[1])
            headers = []
            for line in lines[1:]:
                name, sep, value = line.partition(b":")
                if not sep or not name or name != name.strip():
                    raise ValueError("header line %r" % line[:100])
                headers.append((name.lower(), value.strip()))
            if not 100 <= status < 200 or status == 101:
                if status == 101 or not 100 <= status <= 999:
                    raise ValueError("status %d" % status)
                return status, headers
        raise ValueError("too many interim responses")

    async def counted(self, br, n):
        if n < 0:
            raise ValueError("Content-Length %d" % n)
        while n > 0:
            data = await asyncio.wait_for(br.read(min(n, READ_PIECE)), BACKEND_TIMEOUT)
            if not data:
                raise ValueError("body ended %d octets early" % n)
            n -= len(data)
            yield data

    async def until_eof(self, br):
        while True:
            data = await asyncio.wait_for(br.read(READ_PIECE), BACKEND_TIMEOUT)
            if not data:
                return
            yield data

    async def dechunk(self, br):
        """RFC 9112 7.1: size line (extensions ignored), data, CRLF; a 0 chunk, trailer lines
        (dropped), an empty line. Each piece of chunk data is yielded as soon as it is read."""
        while True:
            line = await asyncio.wait_for(br.readuntil(b"\r\n"), BACKEND_TIMEOUT)
            size_txt = line.split(b";", 1)[0].strip()
            if not size_txt or len(size_txt) > 15:
                raise ValueError("chunk size %r" % line[:40])
            left = int(size_txt, 16)
            if left == 0:
                for _ in range(100):
                    if await asyncio.wait_for(br.readuntil(b"\r\n"), BACKEND_TIMEOUT) == b"\r\n":
                        return
                raise ValueError("too many trailer lines")
            while left > 0:
                data = await asyncio.wait_for(br.read(min(left, READ_PIECE)), BACKEND_TIMEOUT)
                if not data:
                    raise ValueError("chunk ended early")
                left -= len(data)
                yield data
            if await asyncio.wait_for(br.readexactly(2), BACKEND_TIMEOUT) != b"\r\n":
                raise ValueError("chunk not followed by CRLF")


# ---- TLS with ALPN h2 only ----------------------------------------------------------------

def client_hello_alpn(data):
    """The ALPN protocol names a TLS ClientHello offers (RFC 8446 4.1.2, RFC 7301 3.1), [] when
    it has no ALPN extension; None when data does not hold one whole ClientHello record."""
    try:
        if len(data) < 9 or data[0] != 0x16:
            return None
        rlen = int.from_bytes(data[3:5], "big")
        rec = data[5:5 + rlen]
        if len(rec) < rlen or rec[0] != 1:
            return None
        hlen = int.from_bytes(rec[1:4], "big")
        body = rec[4:4 + hlen]
        if len(body) < hlen:
            return None                  # a ClientHello spread over records: not judged here
        p = 2 + 32                       # legacy_version, random
        p += 1 + body[p]                 # legacy_session_id
        p += 2 + int.from_bytes(body[p:p + 2], "big")   # cipher_suites
        p += 1 + body[p]                 # legacy_compression_methods
        if p >= len(body):
            return []
        end = min(len(body), p + 2 + int.from_bytes(body[p:p + 2], "big"))
        p += 2
        while p + 4 <= end:
            etype = int.from_bytes(body[p:p + 2], "big")
            elen = int.from_bytes(body[p + 2:p + 4], "big")
            ext = body[p + 4:p + 4 + elen]
            p += 4 + elen
            if etype == 16:              # application_layer_protocol_negotiation
                names, q = [], 2
                stop = min(len(ext), 2 + int.from_bytes(ext[:2], "big"))
                while q < stop:
                    names.append(bytes(ext[q + 1:q + 1 + ext[q]]))
                    q += 1 + ext[q]
                return names
        return []
    except IndexError:
        return None


NO_APPLICATION_PROTOCOL_ALERT = b"\x15\x03\x03\x00\x02\x02\x78"   # fatal, description 120


class Front:
    def __init__(self, cert, key, backend, port_file, stats_file):
        self.backend = backend
        self.port_file = port_file
        self.stats_file = stats_file
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.set_alpn_protocols(["h2"])
        self.counters = collections.Counter()
        self.stream_window_held = 0     # streams waiting now for the peer to open their window
        self.live = set()
        self.done = []          # (streams, most open at once) of closed connections
        self.tasks = set()

    def count(self, what, n=1):
        self.counters[what] += n

    @staticmethod
    def log(msg):
        print("h2_front: %s" % msg, file=sys.stderr, flush=True)

    def stats(self):
        conns = self.done + [(c.n_streams, c.max_open) for c in self.live]
        return {
            "connections": self.counters["connections"],
            "streams": self.counters["streams"],
            "max_streams_per_connection": max((s for s, _ in conns), default=0),
            "max_open_streams": max((m for _, m in conns), default=0),
            "per_connection": [{"streams": s, "max_open": m} for s, m in conns],
            "alpn_refused": self.counters["alpn_refused"],
            "handshake_failed": self.counters["handshake_failed"],
            "protocol_errors": self.counters["protocol_errors"],
            "backend_errors": self.counters["backend_errors"],
            "streams_held_by_window": self.stream_window_held,
        }

    def write_stats(self):
        tmp = self.stats_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(self.stats(), sort_keys=True) + "\n")
        os.replace(tmp, self.stats_file)

    async def wait_readable(self, sock, timeout):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.add_reader(sock.fileno(), lambda: fut.done() or fut.set_result(None))
        try:
            await asyncio.wait_for(fut, timeout)
        finally:
            loop.remove_reader(sock.fileno())

    async def peek_alpn(self, sock):
        """Peeks at the ClientHello (without consuming it) for the protocols it offers."""
        for _ in range(50):           # a ClientHello arrives in one go on loopback
            await self.wait_readable(sock, HANDSHAKE_TIMEOUT)
            data = sock.recv(16384 + 5, socket.MSG_PEEK)
            if not data:
                return b"eof"
            offered = client_hello_alpn(data)
            if offered is not None or len(data) >= 16384 + 5:
                return offered
            await asyncio.sleep(0.005)  # a partial record: let the rest arrive
        return None

    async def client(self, sock):
        loop = asyncio.get_running_loop()
        try:
            offered = await self.peek_alpn(sock)
            if offered == b"eof":
                sock.close()
                return
            if offered is not None and b"h2" not in offered:
                # RFC 7301 3.2: no protocol in common is a fatal no_application_protocol alert
                self.count("alpn_refused")
                await loop.sock_recv(sock, 16384 + 5)       # consume the peeked ClientHello
                await loop.sock_sendall(sock, NO_APPLICATION_PROTOCOL_ALERT)
                sock.shutdown(socket.SHUT_WR)
                sock.close()
                return
            reader = asyncio.StreamReader(limit=BACKEND_LINE_LIMIT)
            proto = asyncio.StreamReaderProtocol(reader)
            transport, _ = await loop.connect_accepted_socket(
                lambda: proto, sock, ssl=self.ctx, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
            self.count("handshake_failed")
            self.log("handshake: %r" % e)
            sock.close()
            return
        writer = asyncio.StreamWriter(transport, proto, reader, loop)
        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is None or sslobj.selected_alpn_protocol() != "h2":
            self.count("alpn_refused")
            writer.close()
            return
        self.count("connections")
        conn = H2Conn(self, reader, writer)
        self.live.add(conn)
        try:
            await conn.run()
        finally:
            self.live.discard(conn)
            if len(self.done) < MAX_CONN_RECORDS:
                self.done.append((conn.n_streams, conn.max_open))

    async def main(self):
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, self.write_stats)
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(128)
        lsock.setblocking(False)
        tmp = self.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % lsock.getsockname()[1])
        os.rename(tmp, self.port_file)

        async def accept_loop():
            while True:
                sock, _ = await loop.sock_accept(lsock)
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                t = loop.create_task(self.client(sock))
                self.tasks.add(t)
                t.add_done_callback(self.tasks.discard)

        acc = loop.create_task(accept_loop())
        await stop.wait()
        acc.cancel()
        lsock.close()
        self.write_stats()
        for t in list(self.tasks):
            t.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)


# ---- self-test: RFC 7541 Appendix C ----------------------------------------------------------

def self_test():
    def h(s):
        return bytes.fromhex(s.replace(" ", ""))

    # the code is complete and prefix-free: Kraft sum exactly 1, no code a prefix of another
    assert len(HUFFMAN_CODE) == 257 and len(HUFFMAN_DECODE) == 257
    assert sum(1 << (30 - n) for _, n in HUFFMAN_CODE) == 1 << 30
    bits = sorted(format(c, "0%db" % n) for c, n in HUFFMAN_CODE)
    assert all(not b.startswith(a) for a, b in zip(bits, bits[1:]))
    assert huffman_decode(h("f1e3 c2e5 f23a 6ba0 ab90 f4ff")) == b"www.example.com"  # C.4.1
    # every octet survives encoding + decoding
    acc, n = 0, 0
    for sym in range(256):
        c, ln = HUFFMAN_CODE[sym]
        acc, n = (acc << ln) | c, n + ln
    pad = -n % 8
    acc, n = (acc << pad) | ((1 << pad) - 1), n + pad
    assert huffman_decode(acc.to_bytes(n // 8, "big")) == bytes(range(256))
    for bad in ("ff", "ffffffff", "00"):      # EOS-only padding of 8 bits; EOS; zero padding
        try:
            huffman_decode(h(bad))
            raise AssertionError("accepted %s" % bad)
        except HpackError:
            pass

    # C.4: requests with Huffman, one decoder
    d = HpackDecoder()
    auth = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"),
            (b":authority", b"www.example.com")]
    assert d.decode(h("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")) == auth and d.size == 57
    assert d.decode(h("8286 84be 5886 a8eb 1064 9cbf")) == auth + [
        (b"cache-control", b"no-cache")] and d.size == 110
    assert d.decode(h("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf")) == [
        (b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/index.html"),
        (b":authority", b"www.example.com"), (b"custom-key", b"custom-value")] and d.size == 164
    # C.6: responses with Huffman, a 256-octet table (evictions), reached by a size update
    d = HpackDecoder()
    d.decode(h("3fe1 01"))                      # size update to 256
    assert d.max_size == 256
    date1, date2 = b"Mon, 21 Oct 2013 20:13:21 GMT", b"Mon, 21 Oct 2013 20:13:22 GMT"
    loc = b"https://www.example.com"
    r = d.decode(h("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 "
                   "66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"))
    assert r == [(b":status", b"302"), (b"cache-control", b"private"), (b"date", date1),
                 (b"location", loc)] and d.size == 222
    r = d.decode(h("4883 640e ffc1 c0bf"))
    assert r[0] == (b":status", b"307") and r[1:] == [
        (b"cache-control", b"private"), (b"date", date1), (b"location", loc)] and d.size == 222
    r = d.decode(h("88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a "
                   "839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 "
                   "72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"))
    assert r == [(b":status", b"200"), (b"cache-control", b"private"), (b"date", date2),
                 (b"location", loc), (b"content-encoding", b"gzip"),
                 (b"set-cookie", b"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")]
    assert d.size == 215 and len(d.table) == 3
    # errors: index 0, beyond the tables, size update over the limit or after a field
    for bad in ("80", "be", "3fe2 1f", "82 20"):
        try:
            HpackDecoder().decode(h(bad))
            raise AssertionError("accepted %s" % bad)
        except HpackError:
            pass
    # our encoder's output decodes back
    blk = encode_status(200) + encode_literal(b"x-request-id", b"r-1")
    assert HpackDecoder().decode(blk) == [(b":status", b"200"), (b"x-request-id", b"r-1")]
    assert HpackDecoder().decode(encode_literal(b"k", b"v" * 300)) == [(b"k", b"v" * 300)]
    assert client_hello_alpn(b"") is None
    print("ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        sys.exit(0)
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    front = Front(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    asyncio.run(front.main())
