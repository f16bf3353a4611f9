#!/usr/bin/python3
"""ADW300 meters behind an Ethernet-RS485 converter (pymodbus 3.0), for tests and benchmarks.

  adw300_tcp_sim.py --listen 127.0.0.1:5020 --units 1-8 [--framer socket|rtu]
                    [--dump-expected FILE] [--request-log FILE] [--write-log FILE]
                    [--control FILE] [--dead 2]

--framer socket (default): a Modbus TCP gateway (MBAP frames); a unit it does not have gets
exception 11 (gateway target device failed to respond), as gateways answer.
--framer rtu: a converter in transparent mode, RTU frames with CRC on the TCP stream; a unit
it does not have stays silent, as on a serial line.
--listen takes HOST:PORT or [V6]:PORT. Every unit serves adw300_image.py's registers (the
same image, faults and logs as adw300_sim.py, whose pieces it uses). Prints "ready" once it
listens, and request counts per unit as a JSON line on SIGTERM/SIGINT (and, without
stopping, on SIGUSR1: {"served": {...}, "at": monotonic seconds}).
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import adw300_sim  # noqa: E402
import rtu_frame  # noqa: E402
from pymodbus.datastore import ModbusSlaveContext  # noqa: E402
from pymodbus.server.async_io import ModbusConnectedRequestHandler, ModbusTcpServer  # noqa: E402
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer  # noqa: E402


def parse_listen(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: HOST:PORT or [V6]:PORT")
    return host.strip("[]"), int(port)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--listen", type=parse_listen, required=True, help="HOST:PORT or [V6]:PORT")
    p.add_argument("--framer", choices=("socket", "rtu"), default="socket")
    p.add_argument("--units", type=rtu_frame.parse_units, default=[1], help="e.g. 1,2,3 or 1-8")
    p.add_argument("--dead", type=rtu_frame.parse_units, default=[], help="units that never answer")
    p.add_argument("--control", help="file re-read when it changes: dead=, exception=")
    p.add_argument("--request-log", help="append every request received as a JSON line")
    p.add_argument("--write-log", help="append every write request received as a JSON line")
    p.add_argument("--dump-expected", help="write the expected published values as JSON")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    # what adw300_sim's fault and image helpers read
    args.exception_range, args.corrupt_crc, args.corrupt_units, args.seed = [], 0.0, [], 1
    args.pt_ratio = args.ct_ratio = None
    args.live, args.unit_ratio = False, []
    return args


class gateway_context(adw300_sim.server_context):
    """A gateway takes a request for any unit id (pymodbus's framer drops those not in
    slaves() unanswered) and answers exception 11 for a unit that is not behind it."""

    def slaves(self):
        return list(range(1, 248))


async def serve(args):
    fault = adw300_sim.faults(args)
    slaves = {unit: ModbusSlaveContext(hr=adw300_sim.image_block(adw300_sim.build_image(unit, args),
                                                                 fault), zero_mode=True)
              for unit in args.units}
    rtu = args.framer == "rtu"
    context = (adw300_sim.server_context if rtu else gateway_context)(slaves, fault)
    server = ModbusTcpServer(context, framer=ModbusRtuFramer if rtu else ModbusSocketFramer,
                             address=args.listen, allow_reuse_address=True,
                             ignore_missing_slaves=rtu,
                             handler=adw300_sim.make_handler(
                                 adw300_sim.request_logger(fault, args.request_log,
                                                           args.write_log),
                                 ModbusConnectedRequestHandler))
    task = asyncio.create_task(server.serve_forever())
    serving = asyncio.ensure_future(server.serving)
    done, _ = await asyncio.wait({task, serving}, return_when=asyncio.FIRST_COMPLETED)
    if serving not in done:
        raise SystemExit(f"adw300_tcp_sim: cannot listen on {args.listen}: {task.exception()}")
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: print(json.dumps(
        {"served": {str(u): n for u, n in context.served.items()}, "at": time.monotonic()}),
        flush=True))
    await stop.wait()
    await server.shutdown()
    task.cancel()
    print(json.dumps({"served": {str(u): n for u, n in context.served.items()}}), flush=True)


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.CRITICAL)
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    if args.dump_expected:
        adw300_sim.dump_expected(args)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
