#!/usr/bin/python3
"""An Acrel ADW300 Modbus-RTU slave (pymodbus 3.0) on a serial port or pty, for tests.

  adw300_sim.py --port /tmp/bus-b --units 1,2,3 --dump-expected expected.json
                [--dead 2] [--exception-range 0x100-0x110] [--corrupt-crc 0.3 --seed 7]
                [--corrupt-units 2]
                [--control FILE] [--request-log FILE] [--write-log FILE]
                [--live [--unit-ratio 1=1:40]]
                [--min-silence-ms 50 [--slow-units 2]] [--max-count 16 [--max-count-exception 3]]

Every unit serves the image of adw300_image.py (holding registers 0x0000..0x02FF, FC03 read,
FC06/FC16 write: DO registers really change). --dump-expected writes, for every unit, the
exact value the daemon must publish for every measurement (see adw300_image.expected).

Faults, also switchable while running through --control FILE (re-read when it changes;
lines "dead=2,3", "exception=0x100-0x110", "corrupt=0.3", "corrupt_units=2", an empty value
clears; "pt_ratio=N" / "ct_ratio=N" rewrite every unit's ratio register, as an installer
reconfiguring the meters; "registers=0x3E:65535,65280" writes those words from that address
on in every unit, as a counter that wraps or starts again; "registers_once=0x3E:0,0" answers
those words to the next read of them only, as a counter that glitches for one poll):
  dead units do not answer at all; reads or writes touching an exception range get exception
  2 (illegal data address), so a merged block read fails while smaller reads succeed;
  a fraction of answers get a wrong CRC. Prints "ready" on stdout once the port is open and
  request counts per unit on SIGTERM/SIGINT.

--request-log FILE appends one JSON line per request that reaches the slave, dead units
included: {"t": Unix s, "unit", "fc", "address", "count", "dead"} (+ "values" for writes,
+ "quirk": "too_soon" | "too_long" for a request the timing quirks ignored or refused);
--write-log FILE the same for writes (FC06/FC16) only, so a test can prove that no write
reached the bus.

The timing quirks of real meters (stats "too_soon", "too_long" on exit):
--min-silence-ms N: a request to a unit of --slow-units (default: every unit) that arrives less
than N ms after the last answer on the line (any unit's) is ignored, as a meter that is not
listening yet; --max-count N: a read (FC03/FC04) of more than N registers is refused with
exception --max-count-exception (3, illegal data value; 2 as some meters do).

--live (the demo): the measurement registers move every --live-period seconds as a real plant's
do (plant.py: a daily load curve per unit, energy counters rising with the power), instead of
the fixed image; DO, alarm and harmonic registers keep the image's values (and writes).
--unit-ratio U=PT:CT sets one unit's PT/CT ratio registers (repeatable); in live mode units
without one are wired direct (1:1) unless --pt-ratio/--ct-ratio say otherwise.
"""

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import adw300_image  # noqa: E402
import plant  # noqa: E402
import rtu_frame  # noqa: E402
from pymodbus.exceptions import NoSuchSlaveException  # noqa: E402
from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,  # noqa: E402
                                ModbusSlaveContext)
from pymodbus.server.async_io import ModbusSerialServer, ModbusSingleRequestHandler  # noqa: E402
from pymodbus.transaction import ModbusRtuFramer  # noqa: E402


class faults:
    """The fault settings, from the command line and then from the control file."""

    def __init__(self, args):
        self.dead = set(args.dead)
        self.exceptions = list(args.exception_range)
        self.corrupt = args.corrupt_crc
        self.corrupt_units = set(args.corrupt_units)  # empty: every unit
        self.control = args.control
        self.blocks = {}  # unit -> its registers, for set-up changes from the control file
        self.once = []  # (address, words) answered to the next read of them only
        self.mtime = None
        self.rng = random.Random(args.seed)
        # timing quirks (getattr: the other simulators build their args without them)
        self.min_silence = getattr(args, "min_silence_ms", 0) / 1000.0
        self.slow_units = set(getattr(args, "slow_units", []))  # empty: every unit
        self.max_count = getattr(args, "max_count", 0)
        self.max_count_exception = getattr(args, "max_count_exception", 3)
        self.last_answer = 0.0  # time.monotonic() of the last answer sent on the line
        self.quirks = {"too_soon": 0, "too_long": 0}

    def too_soon(self, unit):
        """A slow unit that is not listening yet: the line's last answer was too recent."""
        if self.min_silence <= 0 or (self.slow_units and unit not in self.slow_units):
            return False
        return time.monotonic() - self.last_answer < self.min_silence

    def too_long(self, request):
        return (self.max_count > 0 and request.function_code in (3, 4)
                and getattr(request, "count", 0) > self.max_count)

    def reload(self):
        if not self.control:
            return
        try:
            mtime = os.stat(self.control).st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == self.mtime:
            return
        self.mtime = mtime
        with open(self.control) as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                value = value.strip()
                if key == "dead":
                    self.dead = set(rtu_frame.parse_units(value))
                elif key == "exception":
                    self.exceptions = [rtu_frame.parse_range(v) for v in value.split(",") if v.strip()]
                elif key == "corrupt":
                    self.corrupt = float(value or 0)
                elif key == "corrupt_units":
                    self.corrupt_units = set(rtu_frame.parse_units(value)) if value else set()
                elif key in ("pt_ratio", "ct_ratio"):  # an installer reconfigures the meters
                    address = 0x0E if key == "pt_ratio" else 0x0F
                    for block in self.blocks.values():
                        block.setValues(address, [int(value)])
                elif key in ("registers", "registers_once"):  # a counter that misbehaves
                    at, _, words = value.partition(":")
                    at, words = int(at, 0), [int(w, 0) for w in words.split(",")]
                    if key == "registers_once":
                        self.once.append((at, words))
                    else:
                        for block in self.blocks.values():
                            block.setValues(at, words)
        print(f"control: dead={sorted(self.dead)} exception={self.exceptions} corrupt={self.corrupt}",
              flush=True)

    def illegal(self, address, count):
        return any(address <= last and address + count - 1 >= first for first, last in self.exceptions)


class image_block(ModbusSequentialDataBlock):
    """One unit's registers; a request touching an exception range is out of range."""

    def __init__(self, values, fault):
        super().__init__(0, values)
        self.fault = fault

    def validate(self, address, count=1):
        return super().validate(address, count) and not self.fault.illegal(address, count)

    def getValues(self, address, count=1):  # noqa: N802 (pymodbus's name)
        values = super().getValues(address, count)
        for patch in list(self.fault.once):
            at, words = patch
            if address <= at and at + len(words) <= address + count:
                values[at - address:at - address + len(words)] = words
                self.fault.once.remove(patch)
        return values


class server_context(ModbusServerContext):
    """A dead unit raises NoSuchSlaveException when its request is executed; with
    ignore_missing_slaves the server then stays silent. Checked per request (not in slaves(),
    which pymodbus evaluates before it waits for the next frame)."""

    def __init__(self, slaves, fault):
        super().__init__(slaves=slaves, single=False)
        self.fault = fault
        self.served = {unit: 0 for unit in slaves}

    def __getitem__(self, unit):
        self.fault.reload()
        if unit in self.fault.dead:
            raise NoSuchSlaveException(f"unit {unit} is dead")
        if unit in self.served:
            self.served[unit] += 1
        return super().__getitem__(unit)


WRITE_CODES = (5, 6, 15, 16)


class request_logger:
    """Appends every request (and/or every write) as a JSON line, flushed at once."""

    def __init__(self, fault, request_path, write_path):
        self.fault = fault
        self.files = [(open(p, "a", buffering=1), writes_only)
                      for p, writes_only in ((request_path, False), (write_path, True)) if p]

    def log(self, request, quirk=None):
        if not self.files:
            return
        self.fault.reload()
        fc = request.function_code
        entry = {"t": time.time(), "unit": request.unit_id, "fc": fc,
                 "address": getattr(request, "address", None),
                 "count": getattr(request, "count", 1), "dead": request.unit_id in self.fault.dead}
        if quirk:
            entry["quirk"] = quirk  # "too_soon" (ignored) or "too_long" (refused)
        if fc in WRITE_CODES:
            values = getattr(request, "values", None)
            entry["values"] = list(values) if values is not None else [getattr(request, "value", None)]
        line = json.dumps(entry) + "\n"
        for f, writes_only in self.files:
            if fc in WRITE_CODES or not writes_only:
                f.write(line)


def make_handler(logger, base=ModbusSingleRequestHandler):
    """A request handler of pymodbus's `base` kind (serial: single request, TCP: connected)
    that logs every request before executing it, and plays the timing quirks of the
    logger's faults (too soon: no answer; too long: an exception)."""
    fault = logger.fault

    class logging_handler(base):
        def execute(self, request, *addr):
            quirk = None
            if request.unit_id not in fault.dead:
                if fault.too_soon(request.unit_id):
                    quirk = "too_soon"
                elif fault.too_long(request):
                    quirk = "too_long"
            try:
                logger.log(request, quirk)
            except Exception as e:  # the log must never stop the slave
                print(f"request log failed: {e}", flush=True)
            if quirk:
                fault.quirks[quirk] += 1
            if quirk == "too_soon":
                return None
            if quirk == "too_long":
                response = request.doException(fault.max_count_exception)
                response.transaction_id = request.transaction_id
                response.unit_id = request.unit_id
                return self.send(response, *addr)
            return super().execute(request, *addr)

        def send(self, message, *addr, **kwargs):
            result = super().send(message, *addr, **kwargs)
            fault.last_answer = time.monotonic()
            return result

    return logging_handler


def make_manipulator(fault, stats):
    """Builds the RTU frame itself so that it can flip a CRC byte of some answers."""

    def manipulate(response):
        if fault.corrupt <= 0 or (fault.corrupt_units and response.unit_id not in fault.corrupt_units):
            return response, False
        if fault.rng.random() >= fault.corrupt:
            return response, False
        body = struct.pack(">BB", response.unit_id, response.function_code) + response.encode()
        frame = bytearray(rtu_frame.with_crc(body))
        frame[-1] ^= 0x5A
        stats["corrupted"] += 1
        return bytes(frame), True

    return manipulate


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--port", required=True, help="serial device or pty path")
    p.add_argument("--baud", type=int, default=9600)
    p.add_argument("--parity", choices=("none", "even", "odd"), default="none")
    p.add_argument("--stop-bits", type=int, choices=(1, 2), default=1)
    p.add_argument("--units", type=rtu_frame.parse_units, default=[1], help="e.g. 1,2,3 or 1-5")
    p.add_argument("--dead", type=rtu_frame.parse_units, default=[], help="units that never answer")
    p.add_argument("--exception-range", type=rtu_frame.parse_range, action="append", default=[],
                   help="registers answered with exception 2, e.g. 0x100-0x110 (repeatable)")
    p.add_argument("--corrupt-crc", type=float, default=0.0, help="fraction of answers with a bad CRC")
    p.add_argument("--corrupt-units", type=rtu_frame.parse_units, default=[],
                   help="only these units' answers are corrupted (default: every unit)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--control", help="file re-read when it changes: dead=, exception=, corrupt=")
    p.add_argument("--request-log", help="append every request received as a JSON line")
    p.add_argument("--write-log", help="append every write request received as a JSON line")
    p.add_argument("--dump-expected", help="write the expected published values as JSON")
    p.add_argument("--pt-ratio", type=int, help="meter's PT ratio register (default %d)" % adw300_image.PT_RATIO)
    p.add_argument("--ct-ratio", type=int, help="meter's CT ratio register (default %d)" % adw300_image.CT_RATIO)
    p.add_argument("--live", action="store_true",
                   help="measurement registers move like a real plant's (plant.py)")
    p.add_argument("--live-period", type=float, default=1.0, help="seconds between updates")
    p.add_argument("--unit-ratio", type=parse_unit_ratio, action="append", default=[],
                   metavar="U=PT:CT", help="one unit's PT/CT ratio registers, e.g. 1=1:40")
    p.add_argument("--min-silence-ms", type=int, default=0,
                   help="ignore requests arriving sooner than this after the line's last answer")
    p.add_argument("--slow-units", type=rtu_frame.parse_units, default=[],
                   help="only these units want --min-silence-ms (default: every unit)")
    p.add_argument("--max-count", type=int, default=0,
                   help="refuse reads of more than this many registers")
    p.add_argument("--max-count-exception", type=int, choices=(2, 3), default=3,
                   help="the exception code of a refused long read (default 3)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def parse_unit_ratio(text):
    unit, _, ratios = text.partition("=")
    pt, _, ct = ratios.partition(":")
    try:
        return int(unit), int(pt), int(ct)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: UNIT=PT:CT, e.g. 1=1:40") from None


def ratios_of(unit, args):
    """The PT and CT ratios a unit's registers hold."""
    for u, pt, ct in args.unit_ratio:
        if u == unit:
            return pt, ct
    default_pt, default_ct = (1, 1) if args.live else (adw300_image.PT_RATIO, adw300_image.CT_RATIO)
    return (default_pt if args.pt_ratio is None else args.pt_ratio,
            default_ct if args.ct_ratio is None else args.ct_ratio)


def build_image(unit, args):
    regs = adw300_image.registers(unit)
    regs[0x0E], regs[0x0F] = ratios_of(unit, args)
    return regs


LIVE_KINDS = ("process", "workshop", "office", "canteen")


async def live_updates(blocks, args):
    """--live: every unit's measurement registers follow its own plant.meter."""
    models = {}
    for unit in blocks:
        pt, ct = ratios_of(unit, args)
        v, i = plant.rated_for_ratios(pt, ct)
        models[unit] = (plant.meter(args.seed * 7919 + unit, LIVE_KINDS[(unit - 1) % len(LIVE_KINDS)],
                                    v_nominal=v, i_rated=i), pt, ct)
    while True:
        for unit, (model, pt, ct) in models.items():
            values = model.sample()
            values["pt_ratio"], values["ct_ratio"] = pt, ct
            for addr, word in adw300_image.live_words(unit, values, pt, ct).items():
                blocks[unit].setValues(addr, [word])
        await asyncio.sleep(args.live_period)


def dump_expected(args):
    units = {}
    for unit in args.units:
        e = adw300_image.expected(unit, *ratios_of(unit, args))
        units[str(unit)] = e
    doc = {"profile": "acrel-adw300", "ratios": "secondary",
           "pt_ratio": args.pt_ratio or adw300_image.PT_RATIO,
           "ct_ratio": args.ct_ratio or adw300_image.CT_RATIO, "units": units}
    tmp = args.dump_expected + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    os.replace(tmp, args.dump_expected)


async def serve(args):
    fault = faults(args)
    slaves, blocks = {}, {}
    for unit in args.units:
        block = image_block(build_image(unit, args), fault)
        blocks[unit] = block
        slaves[unit] = ModbusSlaveContext(hr=block, zero_mode=True)
    fault.blocks = blocks
    live = asyncio.create_task(live_updates(blocks, args)) if args.live else None
    context = server_context(slaves, fault)
    stats = {"corrupted": 0}
    parity = {"none": "N", "even": "E", "odd": "O"}[args.parity]
    server = ModbusSerialServer(context, ModbusRtuFramer, port=args.port, baudrate=args.baud,
                                parity=parity, stopbits=args.stop_bits, bytesize=8, timeout=0,
                                ignore_missing_slaves=True,
                                handler=make_handler(request_logger(fault, args.request_log,
                                                                    args.write_log)),
                                response_manipulator=make_manipulator(fault, stats))
    await server.start()
    if server.transport is None:
        raise SystemExit(f"adw300_sim: cannot open {args.port}")
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if live:
        live.cancel()
    await server.shutdown()
    print(json.dumps({"served": {str(u): n for u, n in context.served.items()},
                      "corrupted": stats["corrupted"], **fault.quirks}), flush=True)


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.CRITICAL)
    # pymodbus logs every exception answer and the shutdown as errors: they are the point here
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    if args.dump_expected:
        dump_expected(args)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
