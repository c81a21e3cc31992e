"""pytest wiring of the rig suite (run it with scripts/rig).

Owns: the rig's command-line options, the session fixtures (`server`: the
lab SPICE server; `board`: the labgrid target powered on once for the
session), the `rig` helper the scenarios use to record figures, pictures
and their one-line verdicts, and the Markdown summary written next to the
JUnit XML at the end of the run.
Must not: hold scenario logic (test_scenarios.py does).
"""
import datetime
import os
import subprocess

import pytest

import rigboard  # noqa: F401 - registers BarespiceStrategy before labgrid builds the target
from rigboard import REPO, Board
from rigserver import LabServer, free_port


def pytest_addoption(parser):
    g = parser.getgroup("barespice rig")
    g.addoption("--rig-out", default=os.path.join(REPO, "out", "rig", "run"),
                help="directory for logs, pictures and summary.md")
    g.addoption("--rig-port", type=int, default=int(os.environ.get("BARESPICE_TEST_PORT", "5940")),
                help="first SPICE port to try for the lab server")
    g.addoption("--rig-server-args", default="",
                help="extra scripts/lab-server flags for the server the rig starts")
    g.addoption("--rig-scenes", type=int, default=3, help="scene changes in the picture scenario")
    g.addoption("--rig-cycles", type=int, default=2, help="power cycles in the power-cycle scenario")
    g.addoption("--rig-wrong-scene", action="store_true",
                help="self-check of the oracle: after taking the expected digest, show another "
                     "scene on the server, so the picture scenario must report a mismatch")
    g.addoption("--rig-boot-timeout", type=float, default=None,
                help="seconds from power-on to the first frame (default: options.boot_timeout or 120)")


class Rig:
    """What the scenarios share: options, the run directory and the report."""

    def __init__(self, config, target_name):
        self.config = config
        self.out = config.getoption("--rig-out")
        self.target_name = target_name
        self.verdicts = {}
        self.figures = []
        self.pictures = []
        self.blocks = []
        os.makedirs(self.out, exist_ok=True)

    def opt(self, name):
        """A --rig-NAME option."""
        return self.config.getoption("rig_" + name)

    def passed(self, scenario, text):
        """Record the pass line of a scenario (printed and summarised)."""
        self.verdicts[scenario] = text
        print("PASS %s: %s" % (scenario, text))

    def figure(self, name, value):
        """A figure for the summary (e.g. a boot time)."""
        self.figures.append((name, value))

    def block(self, title, text):
        """A preformatted block for the summary (e.g. scripts/boot-timeline's table)."""
        self.blocks.append((title, text))

    def picture(self, caption, path):
        """A picture for the summary (relative to the run directory)."""
        if path and os.path.exists(path):
            self.pictures.append((caption, os.path.relpath(path, self.out)))


RESULTS = []


@pytest.fixture(scope="session")
def rig(request, target):
    r = Rig(request.config, target.env.config.filename if target.env else "?")
    request.config._barespice_rig = r  # for the summary hook
    return r


@pytest.fixture(scope="session")
def server(rig, target):
    opts = dict(target.env.config.data.get("options") or {})
    port = opts.get("spice_port") or free_port(rig.config.getoption("--rig-port"))
    srv = LabServer(rig.out, int(port), env_file=os.environ.get("RIG_LAB_ENV") or None,
                    listen=opts.get("server_listen"), restart_cmd=os.environ.get("RIG_LAB_RESTART"),
                    server_args=rig.opt("server_args"))
    srv.start()
    if srv.boot_ms:
        rig.figure("lab server boot (ms)", srv.boot_ms)
    vv = srv.write_vv(os.path.join(rig.out, "lab.vv"), opts.get("server_host", "10.0.2.2"))
    if opts.get("vv_copy_to"):
        # A file the board reads at boot, e.g. barespice.vv on a mounted boot partition.
        with open(vv) as src, open(opts["vv_copy_to"], "w") as dst:
            dst.write(src.read())
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def board(rig, target, server):  # noqa: ARG001 - the server must be up before power-on
    opts = dict(target.env.config.data.get("options") or {})
    elf = os.path.join(REPO, "out", "firmware", opts.get("firmware_board", "raspi"), "barespice.elf")
    b = Board(target, rig.out, elf)
    b.firmware_board = opts.get("firmware_board", "raspi")
    b.boot_timeout = rig.opt("boot_timeout") or float(opts.get("boot_timeout", 120))
    b.settle = float(opts.get("mismatch_settle", 6))
    b.power_on()
    yield b
    b.power_off()


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        msg = ""
        if report.outcome != "passed":
            msg = str(report.longrepr.reprcrash.message) if hasattr(report.longrepr, "reprcrash") \
                else str(report.longrepr).splitlines()[-1] if report.longrepr else ""
        RESULTS.append((report.nodeid.split("::")[-1], report.when, report.outcome, msg))


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    r = getattr(session.config, "_barespice_rig", None)
    if r is None:
        return
    lines = ["# barespice rig run", "",
             "- target: `%s`" % r.target_name,
             "- finished: %s UTC" % datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"),
             "- JUnit XML: `junit.xml`; decoded serial logs: `serial-boot*.log`", "",
             "| scenario | result | detail |", "|---|---|---|"]
    for name, when, outcome, msg in RESULTS:
        scen = name.replace("test_", "")
        detail = r.verdicts.get(scen, "") if outcome == "passed" else ("(%s) %s" % (when, msg))
        lines.append("| %s | %s | %s |" % (scen, outcome.upper(), detail.replace("|", "/").replace("\n", " ")))
    if r.figures:
        lines += ["", "## Figures", "", "| figure | value |", "|---|---|"]
        lines += ["| %s | %s |" % (k, v) for k, v in r.figures]
    for title, text in r.blocks:
        lines += ["", "## " + title, "", "```", text, "```"]
    if r.pictures:
        lines += ["", "## Pictures", ""]
        lines += ["![%s](%s)" % (c, p) for c, p in r.pictures]
    with open(os.path.join(r.out, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def timeline(log_path, board):
    """scripts/boot-timeline's table for a decoded log of a `board` (virt|raspi) build."""
    p = subprocess.run([os.path.join(REPO, "scripts", "boot-timeline"), "--board", board, "--log", log_path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    return p.stdout.strip()

