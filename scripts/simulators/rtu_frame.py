"""Modbus-RTU framing without pymodbus: CRC-16/Modbus, request lengths, wire time, raw tty."""

import os
import termios
import tty


def _make_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _make_table()


def crc16(data):
    """CRC-16/Modbus (poly 0xA001 reflected, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    for b in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ b) & 0xFF]
    return crc


def with_crc(body):
    crc = crc16(body)
    return bytes(body) + bytes((crc & 0xFF, crc >> 8))


def crc_ok(frame):
    return len(frame) >= 4 and crc16(frame[:-2]) == frame[-2] | (frame[-1] << 8)


def request_length(buf):
    """Length of the request frame at the start of buf, or None if more bytes are needed.
    Unknown function codes: 8 bytes (the common fixed length) so the stream resyncs."""
    if len(buf) < 2:
        return None
    fc = buf[1]
    if fc in (0x0F, 0x10):
        if len(buf) < 7:
            return None
        return 9 + buf[6]
    return 8


def response_length(buf):
    """Length of the response frame at the start of buf, or None if more bytes are needed."""
    if len(buf) < 3:
        return None
    fc = buf[1]
    if fc & 0x80:
        return 5
    if fc in (0x01, 0x02, 0x03, 0x04, 0x17):
        return 5 + buf[2]
    return 8  # 0x05, 0x06, 0x0F, 0x10: echo of address and quantity


def bits_per_char(parity="none", stop_bits=1, data_bits=8):
    """Bits on the wire per character: start + data + parity + stop."""
    return 1 + data_bits + (0 if parity == "none" else 1) + stop_bits


def wire_time(nbytes, baud, parity="none", stop_bits=1, data_bits=8):
    return nbytes * bits_per_char(parity, stop_bits, data_bits) / baud


def open_raw(path):
    """Opens a tty (a pty end) raw, non-blocking; returns the fd."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return fd


def parse_int(text):
    """Decimal or 0x hex."""
    return int(text, 0)


def parse_range(text):
    """'0x100-0x110' or '256' -> (first, last) inclusive."""
    if "-" in text:
        a, b = text.split("-", 1)
        return parse_int(a), parse_int(b)
    v = parse_int(text)
    return v, v


def parse_units(text):
    """'1,2,5-7' -> [1, 2, 5, 6, 7]."""
    units = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        a, b = parse_range(part)
        units.extend(range(a, b + 1))
    return units
