#!/usr/bin/python3
"""adw300_sim.py with the exception range applied to some units only, for test_read_scan.

  read_scan_slave.py --port /tmp/bus-b --units 1,3 --exception-units 3 --exception-range 0x0-0x0

Units in --exception-units answer exception 2 for any read touching the range, in holding
(FC03) and input (FC04) registers alike, so that `meterbridge scan` cannot find the unit's
register 0 either way; the other units serve the plain ADW300 image. Prints "ready" like the
simulator it reuses (scripts/simulators/adw300_sim.py: image, fault check, dead-unit context).
"""

import argparse
import asyncio
import logging
import os
import signal
import sys

SOURCE_DIR = os.environ.get("MB_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
sys.path.insert(0, os.path.join(SOURCE_DIR, "scripts", "simulators"))

import adw300_image  # noqa: E402
import adw300_sim  # noqa: E402
import rtu_frame  # noqa: E402
from pymodbus.datastore import ModbusSlaveContext  # noqa: E402
from pymodbus.server.async_io import ModbusSerialServer  # noqa: E402
from pymodbus.transaction import ModbusRtuFramer  # noqa: E402


async def serve(port, units, exception_units, exception_range):
    plain = adw300_sim.parse_args(["--port", port])
    faulty = adw300_sim.parse_args(["--port", port, "--exception-range", exception_range])
    fault_of = {False: adw300_sim.faults(plain), True: adw300_sim.faults(faulty)}
    slaves = {}
    for unit in units:
        fault = fault_of[unit in exception_units]
        hr = adw300_sim.image_block(adw300_image.registers(unit), fault)
        ir = adw300_sim.image_block([0] * adw300_image.SIZE, fault)
        slaves[unit] = ModbusSlaveContext(hr=hr, ir=ir, zero_mode=True)
    context = adw300_sim.server_context(slaves, fault_of[False])
    server = ModbusSerialServer(context, ModbusRtuFramer, port=port, baudrate=9600, parity="N",
                                stopbits=1, bytesize=8, timeout=0, ignore_missing_slaves=True)
    await server.start()
    if server.transport is None:
        raise SystemExit(f"read_scan_slave: cannot open {port}")
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.shutdown()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", required=True)
    p.add_argument("--units", type=rtu_frame.parse_units, required=True)
    p.add_argument("--exception-units", type=rtu_frame.parse_units, default=[])
    p.add_argument("--exception-range", default="0x0-0x0")
    a = p.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    asyncio.run(serve(a.port, a.units, set(a.exception_units), a.exception_range))


if __name__ == "__main__":
    main()
