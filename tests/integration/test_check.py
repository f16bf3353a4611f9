"""`meterbridge check`: the real binary on the shipped example and on broken files."""

import os
import re
import unittest

from mbtest import run_cli, TempDirTest, PROFILES_DIR, SOURCE_DIR

EXAMPLE = os.path.join(SOURCE_DIR, "etc", "meterbridge.toml")
INSTALLED_DIRS = 'profile_dirs = ["/etc/meterbridge/profiles", "/usr/share/meterbridge/profiles"]'

HEAD = f"""[gateway]
id = "gw1"
profile_dirs = ["{PROFILES_DIR}", "profiles"]
[uplink]
url = "mqtt://127.0.0.1:1883"
[[bus]]
name = "b1"
port = "/dev/null"
"""  # 8 lines

DEVICE = """[[device]]
name = "d1"
bus = "b1"
unit = 1
profile = "acrel-adw300"
"""  # lines 9..13

def uncomment_block(text, first):
    """The example keeps [[native]] commented out (it names a broker of the site): the block
    that starts at the line `first` ("# [[native]]") and runs to the next blank line,
    uncommented."""
    lines = text.split("\n")
    start = lines.index(first)
    i = start
    while i < len(lines) and lines[i].startswith("#"):
        lines[i] = lines[i][2:] if lines[i].startswith("# ") else lines[i][1:]
        i += 1
    return "\n".join(lines)


def native_table(url, extra=""):
    """A [[native]] named lan (acrel-json-v2 on a/#): 5 lines, url on the third."""
    return (f'[[native]]\nname = "lan"\nurl = "{url}"\n{extra}subscribe = "a/#"\n'
            'format = "acrel-json-v2"\n')


def line_of(text, prefix, after=0):
    """1-based number of the first line starting with prefix (after line `after`)."""
    for n, line in enumerate(text.split("\n"), 1):
        if n > after and line.startswith(prefix):
            return n
    raise AssertionError(f"no line starts with {prefix!r}")


class CheckTest(TempDirTest):
    def check(self, text, name="meterbridge.toml"):
        path = self.write(name, text)
        return path, run_cli("check", "-c", path)

    def assert_error(self, result, path, line, col, key, text=""):
        pattern = re.escape(f"{path}:{line}:{col}: {key}: ") + ".*" + re.escape(text)
        self.assertRegex(result.stderr, pattern, msg=result.stderr)

    def warnings(self, result):
        return [l for l in result.stderr.splitlines() if l.startswith("warning: ")]

    def example(self):
        with open(EXAMPLE) as f:
            text = f.read()
        # The installed example points at the installed profile dirs; check it against the
        # repository's profiles instead.
        self.assertIn(INSTALLED_DIRS, text)
        return text.replace(INSTALLED_DIRS, f'profile_dirs = ["{PROFILES_DIR}"]')

    def test_shipped_example_passes(self):
        # It claims only what works: [buffer] is set (to its defaults), [[native]] is there
        # commented out.
        text = self.example()
        self.assertIn("\n[buffer]\n", text)
        path, r = self.check(text)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(),
                         f"config OK: 2 buses, 3 devices, 0 native sources, 3 profiles ({path})")
        self.assertEqual(r.stderr, "")

    def test_shipped_example_native_section_is_valid(self):
        text = uncomment_block(self.example(), "# [[native]]")
        path, r = self.check(text)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "config OK: 2 buses, 3 devices, "
                                           f"1 native source, 3 profiles ({path})")
        self.assertEqual(r.stderr, "", "native sources run: nothing to warn about")

    def test_native_sources_and_buffer_keys_are_counted_not_warned_about(self):
        path, r = self.check(HEAD + DEVICE + """[buffer]
max_age = "24h"
sync = "full"
[[native]]
name = "lan"
url = "mqtt://127.0.0.1:1884"
subscribe = "a/#"
format = "acrel-json-v2"
[[native]]
name = "site"
url = "mqtt://127.0.0.1:1885"
subscribe = "b/+/meter"
format = "acrel-shadow"
""")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("config OK: 1 bus, 1 device, 2 native sources, 1 profile", r.stdout)
        self.assertEqual(r.stderr, "")

    def test_valid_minimal(self):
        path, r = self.check(HEAD + DEVICE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("config OK: 1 bus, 1 device, 0 native sources, 1 profile", r.stdout)
        self.assertEqual(r.stderr, "")

    def test_every_error_with_location(self):
        path, r = self.check(HEAD + """colour = "red"
[[device]]
name = "d1"
bus = "b9"
unit = 300
profile = "no-such-meter"
interval = 10
[[device]]
name = "d1"
bus = "b1"
unit = 2
profile = "acrel-adw300"
[buffer]
max_age = "1.5s"
""")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assert_error(r, path, 9, 1, "bus[0].colour", "unknown key")
        self.assert_error(r, path, 12, 7, "device[0].bus", 'no [[bus]] named "b9"')
        self.assert_error(r, path, 13, 8, "device[0].unit", "300 is out of range (1..247)")
        self.assert_error(r, path, 14, 11, "device[0].profile", 'profile "no-such-meter" not found')
        self.assert_error(r, path, 15, 12, "device[0].interval", "an integer where a duration")
        self.assert_error(r, path, 17, 8, "device[1].name", 'already used by device[0]')
        self.assert_error(r, path, 22, 11, "buffer.max_age", "not a whole number")
        error_lines = [l for l in r.stderr.splitlines() if l.startswith(path + ":")]
        self.assertEqual(len(error_lines), 7, r.stderr)

    def test_two_buses_on_one_port_and_one_unit_twice_name_both_places(self):
        # bus[1] reaches /dev/null through a symlink: the same port; d2 repeats d1's unit 1.
        link = os.path.join(self.tmp, "ttyLINK")
        os.symlink("/dev/null", link)
        path, r = self.check(HEAD + f"""[[bus]]
name = "b2"
port = "{link}"
""" + DEVICE + """[[device]]
name = "d2"
bus = "b1"
unit = 1
profile = "acrel-adw300"
""")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assert_error(r, path, 11, 8, "bus[1].port",
                          f'"/dev/null" is also the port of bus[0] ({path}:8:8)')
        self.assert_error(r, path, 20, 8, "device[1].unit",
                          f'unit 1 on bus "b1" is already device[0].unit ({path}:15:8)')
        error_lines = [l for l in r.stderr.splitlines() if l.startswith(path + ":")]
        self.assertEqual(len(error_lines), 2, r.stderr)

    def test_bad_url(self):
        path, r = self.check(HEAD.replace("mqtt://127.0.0.1:1883", "https://broker") + DEVICE)
        self.assertEqual(r.returncode, 1)
        self.assert_error(r, path, 5, 7, "uplink.url", "mqtt:// or mqtts://")

    def test_uplink_reconnect_max(self):
        # A duration of at least the first retry (1 s) and at most an hour; the rest of the
        # file stays valid.
        uplink = 'url = "mqtt://127.0.0.1:1883"\n'
        path, r = self.check(HEAD.replace(uplink, uplink + 'reconnect_max = "5s"\n') + DEVICE)
        self.assertEqual(r.returncode, 0, r.stderr)
        for value, text in (('"500ms"', '"500ms" is out of range (1s..1h)'),
                            ('"2h"', '"2h" is out of range (1s..1h)'),
                            ('"soon"', "a duration"),
                            ("30", "an integer where a duration string")):
            path, r = self.check(HEAD.replace(uplink, uplink + f"reconnect_max = {value}\n")
                                 + DEVICE)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assert_error(r, path, 6, 17, "uplink.reconnect_max", text)

    def test_profile_errors_point_into_the_profile(self):
        self.write("profiles/my-meter.toml", """id = "my-meter"
[[value]]
name = "voltage_l1"
address = 0x10
type = "u32"
[[value]]
name = "volts"
address = 0x11
""")
        path, r = self.check(HEAD + DEVICE.replace("acrel-adw300", "my-meter"))
        self.assertEqual(r.returncode, 1)
        profile = os.path.join(self.tmp, "profiles", "my-meter.toml")
        self.assert_error(r, profile, 7, 8, "value[1].name", '"volts" is not a measurement name')
        self.assert_error(r, profile, 8, 11, "value[1].address", "overlaps registers 0x10..0x11")

    def test_local_profile_overrides_in_order(self):
        # The same id in a later dir is never read: the first dir wins.
        self.write("profiles/acrel-adw300.toml", "this is not toml")
        path, r = self.check(HEAD + DEVICE)
        self.assertEqual(r.returncode, 0, r.stderr)
        path, r = self.check(HEAD.replace(f'["{PROFILES_DIR}", "profiles"]',
                                          f'["profiles", "{PROFILES_DIR}"]') + DEVICE)
        self.assertEqual(r.returncode, 1)
        self.assertIn(os.path.join(self.tmp, "profiles", "acrel-adw300.toml") + ":1:", r.stderr)

    def test_syntax_error(self):
        path, r = self.check('[gateway]\nid = "gw1\n')
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, re.escape(path) + r":2:\d+: TOML syntax error")

    def test_missing_file_is_one_clear_error(self):
        missing = os.path.join(self.tmp, "nope.toml")
        r = run_cli("check", "-c", missing)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{missing}: cannot read the file: No such file or directory", r.stderr)
        self.assertEqual(len([l for l in r.stderr.splitlines() if l.startswith(missing)]), 1)

    def test_password_file(self):
        pw = self.write("uplink.password", "secret\n")
        os.chmod(pw, 0o600)
        text = HEAD.replace('url = "mqtt://127.0.0.1:1883"\n',
                            'url = "mqtt://127.0.0.1:1883"\npassword_file = "uplink.password"\n')
        path, r = self.check(text + DEVICE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("secret", r.stdout + r.stderr)
        os.remove(pw)
        path, r = self.check(text + DEVICE)
        self.assertEqual(r.returncode, 1)
        self.assert_error(r, path, 6, 17, "uplink.password_file", "No such file or directory")

    def test_secret_files_others_can_read_are_warned_about(self):
        # The same words `run` logs (bridge::secret_file_warning); still a valid config.
        pw = self.write("uplink.password", "secret\n")
        self.write("client.crt", "cert")
        key = self.write("client.key", "key")
        os.chmod(pw, 0o644)
        os.chmod(key, 0o640)
        text = HEAD.replace('url = "mqtt://127.0.0.1:1883"\n',
                            'url = "mqtt://127.0.0.1:1883"\npassword_file = "uplink.password"\n'
                            'cert_file = "client.crt"\nkey_file = "client.key"\n')
        path, r = self.check(text + DEVICE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("config OK:", r.stdout)
        self.assertEqual(self.warnings(r), [
            f"warning: {path}: uplink.password_file: {pw} is readable by others (mode 0644); "
            "chmod 600 it",
            f"warning: {path}: uplink.key_file: {key} is readable by its group (mode 0640); "
            "chmod 600 it unless the group is meterbridge's own",
        ])
        self.assertNotIn("secret", r.stdout + r.stderr)
        os.chmod(pw, 0o600)
        os.chmod(key, 0o600)
        path, r = self.check(text + DEVICE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")

    def test_names_in_the_relayed_sn_space_are_warned_about(self):
        # Native sources relay unnamed meters as sn-<serial>: a configured name there takes one
        # (issue 16, item 4). Valid, exit 0, one warning per name at FILE:LINE:COL.
        text = HEAD + DEVICE.replace('name = "d1"', 'name = "sn-a-b"') + (
            '[[native]]\nname = "lan"\nurl = "mqtt://127.0.0.1:1884"\nsubscribe = "a/#"\n'
            'format = "acrel-json-v2"\n[[native.meter]]\nserial = "7"\nname = "sn-7"\n'
            '[[native.meter]]\nserial = "8"\nname = "snow"\n')
        path, r = self.check(text)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("config OK:", r.stdout)
        warnings = self.warnings(r)
        device_at = line_of(text, 'name = "sn-a-b"')
        meter_at = line_of(text, 'name = "sn-7"')
        self.assertEqual([w.split(": ")[1:3] for w in warnings],
                         [[f"{path}:{device_at}:8", "device[0].name"],
                          [f"{path}:{meter_at}:8", "native[0].meter[0].name"]], r.stderr)
        self.assertIn('"sn-a-b" is in the sn-<serial> names native sources give the meters they '
                      "relay", warnings[0])

    def test_secret_files_of_natives_are_warned_about(self):
        # issue 16: the uplink's password_file was warned about, a [[native]]'s was not
        lan = self.write("lan.password", "secret\n")
        os.chmod(lan, 0o644)
        path, r = self.check(HEAD + DEVICE + native_table(
            "mqtt://127.0.0.1:1884", 'username = "relay"\npassword_file = "lan.password"\n'))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.warnings(r), [
            f"warning: {path}: native[0].password_file: {lan} is readable by others (mode 0644); "
            "chmod 600 it"])
        self.assertNotIn("secret", r.stdout + r.stderr)

    def test_command_key_file(self):
        key = self.write("command.key", "k" * 64 + "\n")
        os.chmod(key, 0o640)
        text = HEAD.replace('url = "mqtt://127.0.0.1:1883"\n',
                            'url = "mqtt://127.0.0.1:1883"\ncommand_key_file = "command.key"\n')
        path, r = self.check(text + DEVICE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.warnings(r), [
            f"warning: {path}: uplink.command_key_file: {key} is readable by its group (mode "
            "0640); chmod 600 it unless the group is meterbridge's own"])
        self.assertNotIn("k" * 64, r.stdout + r.stderr)
        os.chmod(key, 0o600)
        path, r = self.check(text.replace("[[bus]]", "commands = false\n[[bus]]") + DEVICE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.warnings(r), [
            f"warning: {path}:6:20: uplink.command_key_file: commands = false takes no command, "
            "signed or not, so the key is not used (remove it, or set commands = true)"])
        self.write("command.key", "short\n")
        path, r = self.check(text + DEVICE)
        self.assertEqual(r.returncode, 1)
        self.assert_error(r, path, 6, 20, "uplink.command_key_file", "is 5 bytes (32..1024")

    def test_a_native_on_the_uplinks_broker_without_logging_in_is_warned_about(self):
        # issue 16: there, the meters can likely command the RS485 meters (docs/security.md)
        path, r = self.check(HEAD + DEVICE + native_table("mqtt://127.0.0.1"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.warnings(r), [
            f"warning: {path}:16:7: native[0].url: the uplink's broker (127.0.0.1:1883), without "
            "logging in: unless the broker's ACLs deny it, the meters publishing there may also "
            "publish under \"meterbridge/\", so command the RS485 meters, overwrite retained meta "
            "and status, and fake readings (give the meters and the gateway users of their own, "
            "and deny the meters \"meterbridge/#\": docs/security.md)"])

    def test_one_converter_however_spelled_is_one_bus(self):
        # issue 16: numeric spellings of one endpoint are errors naming both places ...
        ports = ["tcp://127.0.0.1:5020", "rtu+tcp://127.0.0.01:05020",
                 "tcp://[::ffff:127.0.0.1]:5020"]  # ports at 11:8, 14:8, 17:8
        buses = "".join(f'[[bus]]\nname = "c{i}"\nport = "{p}"\n' for i, p in enumerate(ports))
        path, r = self.check(HEAD + buses + DEVICE)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assert_error(r, path, 14, 8, "bus[2].port",
                          f'"rtu+tcp://127.0.0.01:05020" is the converter at 127.0.0.1:5020, as '
                          f'is bus[1]\'s "tcp://127.0.0.1:5020" ({path}:11:8): one converter is '
                          "one bus")
        self.assert_error(r, path, 17, 8, "bus[3].port",
                          f'"tcp://[::ffff:127.0.0.1]:5020" is the converter at 127.0.0.1:5020')
        # ... and a host name that resolves to one (check looks it up) is a warning.
        path, r = self.check(HEAD + buses.replace(ports[1], "rtu+tcp://localhost:5020")
                             .replace(ports[2], "tcp://127.0.0.2:5020") + DEVICE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.warnings(r), [
            f'warning: {path}:14:8: bus[2].port: "rtu+tcp://localhost:5020" and bus[1]\'s '
            f'"tcp://127.0.0.1:5020" ({path}:11:8) both reach 127.0.0.1:5020 once host names are '
            "resolved: one converter is one bus (put the devices of both on one [[bus]], or "
            "correct the address)"])

    def test_bad_arguments(self):
        for args in (["check", "-x"], ["check", "-c"], ["check", "a", "b"]):
            r = run_cli(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage: meterbridge check [-c FILE]", r.stderr)


if __name__ == "__main__":
    unittest.main()
