#!/usr/bin/python3
"""A byte relay between two pty pairs that spoils the CRC of some slave answers.

  garbage_proxy.py --master /tmp/m-b --slave /tmp/s-a [--corrupt 0.3 --seed 7 | --every 3]

  daemon --> /tmp/m-a ==socat== /tmp/m-b --> proxy --> /tmp/s-a ==socat== /tmp/s-b --> simulator

Requests go through untouched. Answers are cut into frames (by the Modbus length rules, or
at a silence of --gap-ms) and the last CRC byte of a chosen few is flipped: a fraction
(--corrupt, random with --seed) or every Nth answer (--every N). --noise P also puts a random
byte in front of a fraction P of answers (line noise). Prints "ready" when both ends are
open and, on SIGTERM/SIGINT, one JSON line: answers relayed, corrupted, noise added.
"""

import argparse
import json
import os
import random
import select
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rtu_frame  # noqa: E402


class garbage_proxy:
    def __init__(self, args):
        self.args = args
        self.master = rtu_frame.open_raw(args.master)
        self.slave = rtu_frame.open_raw(args.slave)
        self.rng = random.Random(args.seed)
        self.answer = bytearray()
        self.last_byte = 0.0
        self.relayed = 0
        self.corrupted = 0
        self.noisy = 0
        self.requests = 0
        self.stopping = False

    def spoil(self):
        a = self.args
        n = self.relayed + 1
        if a.every:
            return n % a.every == 0
        return a.corrupt > 0 and self.rng.random() < a.corrupt

    def forward_answer(self, frame):
        frame = bytearray(frame)
        if self.spoil():
            frame[-1] ^= 0xA5
            self.corrupted += 1
        if self.args.noise > 0 and self.rng.random() < self.args.noise:
            frame[:0] = bytes((self.rng.randrange(256),))
            self.noisy += 1
        self.relayed += 1
        os.write(self.master, bytes(frame))

    def split_answers(self):
        while True:
            n = rtu_frame.response_length(self.answer)
            if n is None or len(self.answer) < n:
                return
            self.forward_answer(self.answer[:n])
            del self.answer[:n]

    def run(self):
        print("ready", flush=True)
        gap = self.args.gap_ms / 1000
        while not self.stopping:
            try:
                ready, _, _ = select.select([self.master, self.slave], [], [], gap)
            except InterruptedError:
                continue
            if not ready and self.answer and time.monotonic() - self.last_byte >= gap:
                self.forward_answer(self.answer)  # an odd-sized answer: pass it on as it is
                self.answer.clear()
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except (BlockingIOError, OSError):
                    continue
                if fd == self.master:
                    self.requests += 1
                    os.write(self.slave, data)
                else:
                    self.answer += data
                    self.last_byte = time.monotonic()
                    self.split_answers()

    def stats(self):
        return {"requests": self.requests, "relayed": self.relayed, "corrupted": self.corrupted,
                "noise": self.noisy}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--master", required=True, help="pty end facing the Modbus master (daemon)")
    p.add_argument("--slave", required=True, help="pty end facing the simulator")
    p.add_argument("--corrupt", type=float, default=0.0, help="fraction of answers with a bad CRC")
    p.add_argument("--every", type=int, default=0, help="spoil every Nth answer instead")
    p.add_argument("--noise", type=float, default=0.0, help="fraction of answers with a stray leading byte")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--gap-ms", type=float, default=20.0, help="silence that ends an answer")
    p.add_argument("--stats", help="also write the statistics JSON here on exit")
    args = p.parse_args(argv if argv is not None else sys.argv[1:])
    proxy = garbage_proxy(args)

    def stop(_sig, _frame):
        proxy.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        proxy.run()
    finally:
        text = json.dumps(proxy.stats(), sort_keys=True)
        print(text, flush=True)
        if args.stats:
            with open(args.stats, "w") as f:
                f.write(text + "\n")


if __name__ == "__main__":
    main()
