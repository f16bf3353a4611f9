"""The Debian package as an operator gets it: `cpack -G DEB` on this build gives a .deb whose
files sit in their Debian places, whose Depends name every shared library the binary uses,
whose config is a conffile (upgrades keep local edits), and whose postinst creates the user
without starting the service. The package is inspected with dpkg-deb, never installed."""

import glob
import os
import subprocess
import unittest

from mbtest import TempDirTest, require_program

BUILD_DIR = os.environ.get("MB_BUILD_DIR", "")


class PackageTest(TempDirTest):
    """Needs MB_BUILD_DIR (CTest sets it), cpack and dpkg-deb: without them it fails."""

    def setUp(self):
        super().setUp()
        self.assertTrue(BUILD_DIR and os.path.isfile(os.path.join(BUILD_DIR, "CPackConfig.cmake")),
                        f"MB_BUILD_DIR={BUILD_DIR!r} is not a configured build tree (CTest sets it)")
        self.cpack = require_program("cpack", "cmake")
        require_program("dpkg-deb", "dpkg")

    def test_deb_contents_depends_and_maintainer_scripts(self):
        out = os.path.join(self.tmp, "pkg")
        built = subprocess.run([self.cpack, "-G", "DEB", "-B", out], cwd=BUILD_DIR,
                               capture_output=True, text=True, timeout=240)
        self.assertEqual(built.returncode, 0, built.stdout + built.stderr)
        debs = glob.glob(os.path.join(out, "meterbridge_*_*.deb"))
        self.assertEqual(len(debs), 1, os.listdir(out))
        deb = debs[0]

        files = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True,
                               check=True).stdout
        for path in ["./usr/bin/meterbridge", "./lib/systemd/system/meterbridge.service",
                     "./usr/lib/sysusers.d/meterbridge.conf",
                     "./usr/lib/tmpfiles.d/meterbridge.conf",
                     "./etc/meterbridge/meterbridge.toml",
                     "./usr/share/meterbridge/profiles/acrel-adw300.toml",
                     "./usr/share/meterbridge/profiles/eastron-sdm630.toml"]:
            self.assertIn(" " + path + "\n", files, f"{path} missing from the package")

        # A cross build's package is for its architecture (tests/arm sets MB_DEB_ARCH), whose
        # Depends dpkg-shlibdeps found among that architecture's libraries.
        want_arch = os.environ.get("MB_DEB_ARCH") or subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True,
            check=True).stdout.strip()
        arch = subprocess.run(["dpkg-deb", "-f", deb, "Architecture"], capture_output=True,
                              text=True, check=True).stdout.strip()
        self.assertEqual(arch, want_arch)
        self.assertTrue(deb.endswith(f"_{want_arch}.deb"), deb)

        depends = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True,
                                 text=True, check=True).stdout
        for lib in ["libmodbus5", "libmosquitto1", "libuv1", "libtomlplusplus3", "libsystemd0",
                    "systemd"]:
            self.assertIn(lib, depends, f"Depends lacks {lib}: {depends}")

        control = os.path.join(self.tmp, "control")
        subprocess.run(["dpkg-deb", "-e", deb, control], check=True)
        with open(os.path.join(control, "conffiles")) as f:
            self.assertIn("/etc/meterbridge/meterbridge.toml", f.read())
        with open(os.path.join(control, "postinst")) as f:
            postinst = f.read()
        self.assertIn("systemd-sysusers", postinst)
        self.assertNotIn("systemctl start", postinst, "installing must not start the service")
        self.assertTrue(os.access(os.path.join(control, "postinst"), os.X_OK))


if __name__ == "__main__":
    unittest.main()
