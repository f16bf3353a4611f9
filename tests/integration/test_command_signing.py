"""Signed commands (docs/security.md; issue 16, item 10) with the real daemon, a real mosquitto
and the pymodbus ADW300 on a pty. With [uplink] command_key_file set, a command reaches the
meter only when it is signed by docs/security.md's own Python `signed_command`, run here as the
document shows it (with the standard library's hmac). Unsigned, wrongly signed, changed, stale
and replayed commands get ok:false with the reason and write nothing (the simulator logs every
write)."""

import json
import os
import time
import types
import unittest

from mbtest import doc_block, wait_until
from rtu_rig import RtuRig, require_built, topic

KEY = "3c5f0e1d9b7a4c2e8f6d0b1a3e5c7f9d2b4a6c8e0f1d3b5a7c9e2f4d6b8a0c1e"  # openssl rand -hex 32
UNSIGNED = ('unsigned command refused: this gateway takes signed commands only ("ts" and '
            '"sig", see docs/security.md)')
MISMATCH = "sig: does not match (another key, or the command changed on its way)"


def documented_sender():
    """The namespace docs/security.md's sender block runs in: signed_command and its imports."""
    namespace = {}
    exec(doc_block("security.md", "python", "def signed_command"), namespace)  # noqa: S102
    return namespace


@require_built
class CommandSigningTest(RtuRig):
    def setUp(self):
        super().setUp()
        self.sender = documented_sender()

    def start_gateway(self, with_key=True):
        uplink = {}
        if with_key:
            key_file = self.write("command.key", KEY + "\n")
            os.chmod(key_file, 0o600)
            uplink["command_key_file"] = key_file
        self.start([("incomer", 1), ("spare", 2)], interval="1s", timeout="200ms", uplink=uplink)
        self.wait_data("incomer", 1)
        self.wait_subscribed()

    def signed(self, command, key=KEY, dev="incomer", at=None):
        """signed_command as documented; `at` (Unix s) stands in for its time.time()."""
        self.sender["time"] = time if at is None else types.SimpleNamespace(time=lambda: at)
        return self.sender["signed_command"](key.encode(), topic(dev, "cmd"), command)

    def answer(self, payload, want_id):
        """The result of this command, also when an earlier one had the same id."""
        def answers():
            return [r for r in self.results("incomer") if r.get("id") == want_id]
        before = len(answers())
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self.sub.publish(topic("incomer", "cmd"), text)
        wait_until(lambda: len(answers()) > before, 15,
                   what=f"a result for {want_id}; log:\n{self.log_tail()}")
        return answers()[-1]

    def refused(self, payload, want_id):
        res = self.answer(payload, want_id)
        self.assertIs(res["ok"], False, res)
        return res["error"]

    def test_only_commands_signed_with_the_key_reach_the_meter(self):
        self.start_gateway()
        self.assertIn("downlink: signed commands only", self.mb.output())
        # What anyone else on the broker can publish: refused, as is everything not quite right.
        self.assertEqual(self.refused({"id": "evil-1", "set": {"do_1": 1}}, "evil-1"), UNSIGNED)
        wrong_key = "f" * 64
        self.assertEqual(self.refused(self.signed({"id": "w-1", "set": {"do_1": 1}}, wrong_key),
                                      "w-1"), MISMATCH)
        changed = self.signed({"id": "w-2", "set": {"do_1": 0}}).replace('"do_1":0', '"do_1":1')
        self.assertEqual(self.refused(changed, "w-2"), MISMATCH)
        for_spare = self.signed({"id": "w-3", "set": {"do_1": 1}}, dev="spare")
        self.assertEqual(self.refused(for_spare, "w-3"), MISMATCH, "signed for another device")
        stale = self.signed({"id": "w-4", "set": {"do_1": 1}}, at=time.time() - 600)
        self.assertRegex(self.refused(stale, "w-4"),
                         r"^ts: (599|600|601) s behind the gateway's clock \(at most 300 s")
        self.assertEqual(self.writes(), [], "no refused command wrote anything")

        # Signed as documented: executed, the relay switches.
        payload = self.signed({"id": "c-1", "set": {"do_1": 1}})
        self.assertTrue(payload.endswith('"}') and ',"sig":"' in payload, payload)
        self.assertEqual(self.answer(payload, "c-1"), {"id": "c-1", "ok": True})
        self.assertEqual([(w["unit"], w["values"]) for w in self.writes()], [(1, [1])])
        # The same message again is a replay; the same id with a new signature too.
        self.assertRegex(self.refused(payload, "c-1"), r"^id: already used on this topic")
        self.assertRegex(self.refused(self.signed({"id": "c-1", "set": {"do_1": 0}}), "c-1"),
                         r"^id: already used on this topic")
        self.assertEqual(len(self.writes()), 1, "a replay writes nothing")
        res = self.command("incomer", self.signed({"id": "c-2", "read": ["do_1"]}), "c-2")
        self.assertEqual(res, {"id": "c-2", "ok": True, "values": {"do_1": 1}})
        # a signed command is still held to what the profile allows
        res = self.command("incomer", self.signed({"id": "c-3", "set": {"do_1": 5}}), "c-3")
        self.assertEqual(res, {"id": "c-3", "ok": False, "error": "do_1: 5 is out of range 0..1"})

        log = self.mb.output()
        self.assertRegex(log, r"warn .*downlink: command for incomer refused: unsigned command")
        self.assertNotIn(KEY, log)
        self.assert_running()

    def test_without_a_key_a_signed_command_is_refused_not_taken_unchecked(self):
        self.start_gateway(with_key=False)
        res = self.command("incomer", self.signed({"id": "u-1", "set": {"do_1": 1}}), "u-1")
        self.assertIs(res["ok"], False)
        self.assertTrue(res["error"].startswith("sig: this gateway takes unsigned commands "
                                                "([uplink] command_key_file is not set)"), res)
        self.assertEqual(self.writes(), [], "a signature nobody checks is no reason to write")
        res = self.command("incomer", json.dumps({"id": "u-2", "set": {"do_1": 1}}), "u-2")
        self.assertEqual(res, {"id": "u-2", "ok": True}, "unsigned commands work as before")
        self.assert_running()


if __name__ == "__main__":
    unittest.main()
