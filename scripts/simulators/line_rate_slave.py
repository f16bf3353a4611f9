#!/usr/bin/python3
"""A Modbus-RTU slave that answers no faster than a real RS-485 line, for the benchmark.

  line_rate_slave.py --port /tmp/bus-b --baud 9600 --parity none --units 1-8 [--turnaround-ms 5]

A pty delivers bytes instantly; a real line does not. Each answer is held until the request
would have finished arriving, the meter has turned around (--turnaround-ms, default 5) and the
whole answer would have been on the wire: (request bytes + answer bytes) * bits per character
/ baud + turnaround, with bits per character = start + data + parity + stop (8N1: 10, 8E1: 11).
Every unit serves the ADW300 image (adw300_image.py): FC03 and FC04 read it, FC06/FC16 write
it. Other unit ids get no answer. Raw os.read/os.write with our own CRC: no pymodbus, so the
slave keeps up at any baud. Prints "ready" when listening and, on SIGTERM/SIGINT/exit, one JSON
line of statistics (requests served per unit, ignored frames, CRC errors); --stats FILE also
writes it there.
"""

import argparse
import json
import os
import select
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import adw300_image  # noqa: E402
import rtu_frame  # noqa: E402


class line_rate_slave:
    def __init__(self, args):
        self.args = args
        self.fd = rtu_frame.open_raw(args.port)
        self.images = {u: adw300_image.registers(u) for u in args.units}
        self.served = {u: 0 for u in args.units}
        self.exceptions = {u: 0 for u in args.units}
        self.ignored = 0
        self.crc_errors = 0
        self.buf = bytearray()
        self.stopping = False

    def wire(self, nbytes):
        a = self.args
        return rtu_frame.wire_time(nbytes, a.baud, a.parity, a.stop_bits, a.data_bits)

    def answer(self, unit, req):
        """The response PDU (without address and CRC) for one request."""
        regs = self.images[unit]
        fc = req[1]
        try:
            if fc in (0x03, 0x04):
                addr, count = struct.unpack(">HH", req[2:6])
                if not 1 <= count <= 125 or addr + count > len(regs):
                    return bytes((fc | 0x80, 0x02 if count <= 125 else 0x03))
                data = b"".join(struct.pack(">H", w) for w in regs[addr:addr + count])
                return bytes((fc, len(data))) + data
            if fc == 0x06:
                addr, value = struct.unpack(">HH", req[2:6])
                if addr >= len(regs):
                    return bytes((fc | 0x80, 0x02))
                regs[addr] = value
                return bytes(req[1:6])
            if fc == 0x10:
                addr, count = struct.unpack(">HH", req[2:6])
                if addr + count > len(regs) or req[6] != 2 * count:
                    return bytes((fc | 0x80, 0x02))
                regs[addr:addr + count] = struct.unpack(f">{count}H", req[7:7 + 2 * count])
                return bytes(req[1:6])
        except struct.error:
            pass
        return bytes((fc | 0x80, 0x01))  # illegal function

    def handle(self, frame, arrived):
        unit = frame[0]
        if unit not in self.images:
            self.ignored += 1
            return
        pdu = self.answer(unit, frame)
        if pdu[0] & 0x80:
            self.exceptions[unit] += 1
        response = rtu_frame.with_crc(bytes((unit,)) + pdu)
        # the request took wire(len) to arrive, the meter thinks, the answer takes wire(len)
        due = arrived + self.wire(len(frame)) + self.args.turnaround_ms / 1000 + self.wire(len(response))
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        os.write(self.fd, response)
        self.served[unit] += 1

    def drain(self, arrived):
        while True:
            n = rtu_frame.request_length(self.buf)
            if n is None or len(self.buf) < n:
                return
            frame = bytes(self.buf[:n])
            if rtu_frame.crc_ok(frame):
                del self.buf[:n]
                self.handle(frame, arrived)
            else:
                self.crc_errors += 1
                del self.buf[:1]  # resynchronise byte by byte

    def run(self):
        print("ready", flush=True)
        while not self.stopping:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.2)
            except InterruptedError:
                continue
            if not ready:
                if self.buf:  # a silent gap ends any partial frame
                    self.buf.clear()
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except BlockingIOError:
                continue
            except OSError:  # the other end of the pty went away
                time.sleep(0.05)
                continue
            arrived = time.monotonic()
            self.buf += chunk
            self.drain(arrived)

    def stats(self):
        return {"served": {str(u): n for u, n in self.served.items()},
                "exceptions": {str(u): n for u, n in self.exceptions.items() if n},
                "ignored": self.ignored, "crc_errors": self.crc_errors,
                "baud": self.args.baud, "bits_per_char": rtu_frame.bits_per_char(
                    self.args.parity, self.args.stop_bits, self.args.data_bits),
                "turnaround_ms": self.args.turnaround_ms}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--port", required=True)
    p.add_argument("--baud", type=int, default=9600)
    p.add_argument("--parity", choices=("none", "even", "odd"), default="none")
    p.add_argument("--stop-bits", type=int, choices=(1, 2), default=1)
    p.add_argument("--data-bits", type=int, choices=(7, 8), default=8)
    p.add_argument("--units", type=rtu_frame.parse_units, default=[1], help="e.g. 1-8 or 1,2,3")
    p.add_argument("--turnaround-ms", type=float, default=5.0)
    p.add_argument("--stats", help="also write the statistics JSON here on exit")
    args = p.parse_args(argv if argv is not None else sys.argv[1:])

    slave = line_rate_slave(args)

    def stop(_sig, _frame):
        slave.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        slave.run()
    finally:
        text = json.dumps(slave.stats(), sort_keys=True)
        print(text, flush=True)
        if args.stats:
            with open(args.stats, "w") as f:
                f.write(text + "\n")
        os.close(slave.fd)


if __name__ == "__main__":
    main()
