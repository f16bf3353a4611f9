#!/usr/bin/env python3
"""The include rules of docs/architecture.md#layers: arrows point down only.

  bridge/model/   includes nothing of the project but bridge/model/
  drivers/, buffer/, bridge/   never include daemon/
  drivers/modbus_rtu/   never includes the MQTT side of bridge/ (only bridge/model/)
  buffer/   includes only bridge/model/ and buffer/

Usage: check_layers.py SOURCE_DIR     exit 1 and one line per broken rule
       check_layers.py --self-test    proves each rule catches a violation
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)

# (folder, allowed-prefixes or None, forbidden-prefixes, why)
RULES = [
    ("bridge/model/", ("bridge/model/",), (), "the model depends on nothing above it"),
    ("drivers/", None, ("daemon/",), "libraries never reach up into the executable"),
    ("buffer/", ("bridge/model/", "buffer/"), (), "the buffer sees only the model"),
    ("bridge/", None, ("daemon/", "drivers/", "buffer/"), "bridge/ sits below drivers/ and buffer/"),
    ("drivers/modbus_rtu/", ("bridge/model/", "drivers/modbus_rtu/", "drivers/source", "drivers/normalize"), (),
     "the RTU driver never needs the MQTT side of bridge/"),
]


def violations(root):
    found = []
    for top in ("bridge", "drivers", "buffer"):
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
        "bridge/model/x.hpp": '#include "bridge/mqtt_link.hpp"\n',
        "drivers/native/x.cpp": '#include "daemon/gateway.hpp"\n',
        "buffer/x.cpp": '#include "bridge/payloads.hpp"\n',
        "bridge/x.cpp": '#include "daemon/log/journal_sink.hpp"\n',
        "drivers/modbus_rtu/x.cpp": '#include "bridge/uplink.hpp"\n',
    }
    ok = True
    for rel, text in cases.items():
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, os.path.dirname(rel)))
            with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
                f.write('#include "bridge/model/reading.hpp"\n' + text)
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
