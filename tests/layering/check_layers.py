#!/usr/bin/env python3
"""The include rules of docs/architecture.md: arrows point down only.

  common/              includes nothing of the project but common/
  model/               common/ and model/ only
  bridge/link/         common/ and bridge/link/ only (the MQTT link knows no uplink)
  bridge/              never drivers/, buffer/ or daemon/
  buffer/              common/, model/ and buffer/ only
  drivers/             never daemon/, and of bridge/ only the link (drivers/native)
  drivers/modbus_rtu/  common/, model/, drivers/modbus_rtu/, drivers/source, drivers/normalize
  daemon/config/       never the gateway or the executable
  daemon/gateway/, daemon/log/   never the executable (daemon/*.hpp)

Usage: check_layers.py SOURCE_DIR     exit 1 and one line per broken rule
       check_layers.py --self-test    proves each rule catches a violation
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
# The executable's own files: daemon/<name>.hpp, not in a subfolder.
EXECUTABLE = re.compile(r"^daemon/[^/]+$")

# (folder, allowed-prefixes or None, forbidden-prefixes, why)
RULES = [
    ("common/", ("common/",), (), "the common pieces depend on nothing of the project"),
    ("model/", ("common/", "model/"), (), "the model sees only the common pieces"),
    ("bridge/link/", ("common/", "bridge/link/"), (), "the MQTT link knows nothing above it"),
    ("bridge/", None, ("daemon/", "drivers/", "buffer/"), "bridge/ sits below drivers/ and buffer/"),
    ("buffer/", ("common/", "model/", "buffer/"), (), "the buffer sees only the model"),
    ("drivers/", None, ("daemon/",), "libraries never reach up into the daemon"),
    ("drivers/", ("common/", "model/", "drivers/", "bridge/link/"), (),
     "a driver may use the MQTT link, never the uplink side of bridge/"),
    ("drivers/modbus_rtu/", ("common/", "model/", "drivers/modbus_rtu/", "drivers/source",
                             "drivers/normalize"), (),
     "the RTU driver never needs the MQTT side"),
    ("daemon/config/", None, ("daemon/gateway/",), "the config knows nothing of the gateway"),
]


def executable_include(rel, inc):
    """A library under daemon/ including one of the executable's own files."""
    return rel.startswith(("daemon/config/", "daemon/gateway/", "daemon/log/")) and \
        bool(EXECUTABLE.match(inc))


def violations(root):
    found = []
    for top in ("common", "model", "bridge", "drivers", "buffer", "daemon"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith((".hpp", ".cpp", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for m in INCLUDE.finditer(text):
                    inc = m.group(1)
                    line = text.count("\n", 0, m.start()) + 1
                    if executable_include(rel, inc):
                        found.append(f"{rel}:{line}: includes \"{inc}\": a library never "
                                     "includes the executable's own files")
                    for folder, allowed, forbidden, why in RULES:
                        if not rel.startswith(folder):
                            continue
                        bad = inc.startswith(forbidden) if forbidden else False
                        if allowed is not None and "/" in inc and not inc.startswith(allowed):
                            bad = True
                        if bad:
                            found.append(f"{rel}:{line}: includes \"{inc}\": {why}")
    return found


def self_test():
    cases = {
        "common/x.hpp": '#include "model/reading.hpp"\n',
        "model/x.hpp": '#include "bridge/link/mqtt_link.hpp"\n',
        "bridge/link/x.cpp": '#include "bridge/uplink.hpp"\n',
        "drivers/native/x.cpp": '#include "daemon/gateway/gateway.hpp"\n',
        "drivers/native/y.cpp": '#include "bridge/uplink.hpp"\n',
        "buffer/x.cpp": '#include "bridge/payloads.hpp"\n',
        "bridge/x.cpp": '#include "daemon/log/journal_sink.hpp"\n',
        "drivers/modbus_rtu/x.cpp": '#include "bridge/link/mqtt_link.hpp"\n',
        "daemon/config/x.cpp": '#include "daemon/gateway/gateway.hpp"\n',
        "daemon/gateway/x.cpp": '#include "daemon/lifecycle.hpp"\n',
    }
    ok = True
    for rel, text in cases.items():
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, os.path.dirname(rel)))
            with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
                f.write('#include "common/log.hpp"\n' + text)
            if not any(v.startswith(rel + ":2:") for v in violations(root)):
                print(f"self-test: {rel} with {text.strip()} was not reported")
                ok = False
    print("self-test: every rule reports its violation" if ok else "self-test FAILED")
    return 0 if ok else 1


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    found = violations(sys.argv[1])
    for v in found:
        print(v)
    print(f"{len(found)} layering violation(s)" if found else "layering: every include points down")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
