"""`hotline desktop` as an agent starts it: the console entry point of the project's virtual environment, run
as its own process on the machine's Python, on a real X server (Xvfb, Qt's `xcb` platform plugin, not the
offscreen one the other desktop tests use), against the real CTI server and Asterisk. The agent's id and
password are typed into the sign-in dialog with the keyboard (xdotool, through the X server), then the
ready key is pressed; Asterisk's queue must then have the agent unpaused. A screenshot of the whole X
screen is kept in var/screenshots/ per interface language."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.e2e import ROOT, Stack, add_user, hotline
from tests.support.waiting import wait_for

PASSWORD = "x11-desk-pass"
SHOTS = ROOT / "var" / "screenshots"
ENTRY_POINT = Path(sys.executable).parent / "hotline"  # the console script pip made, as a user runs it
TITLES = {"zh": ("坐席登录", "热线坐席工作台"), "en": ("Agent sign-in", "Hotline Agent Desktop")}


class Xvfb:
    """A virtual X server on a display number it chooses itself (-displayfd), so parallel runs never clash."""

    def __init__(self, tmp: Path) -> None:
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / "xvfb.log", "wb"),
        )
        os.close(write)
        with os.fdopen(read) as fh:
            number = fh.readline().strip()
        assert number, f"Xvfb did not start (see {tmp / 'xvfb.log'})"
        self.display = f":{number}"

    def run(self, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, DISPLAY=self.display)
        return subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=timeout, check=False)

    def window(self, title: str) -> str | None:
        """The X window id of a visible window whose title matches the regular expression, or None."""
        found = self.run("xdotool", "search", "--onlyvisible", "--name", title).stdout.split()
        return found[0] if found else None

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        shot = self.run("import", "-window", "root", str(path))
        assert shot.returncode == 0, shot.stderr

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def xvfb(tmp_path: Path) -> Iterator[Xvfb]:
    missing = [t for t in ("Xvfb", "xdotool", "import") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"tools missing: {', '.join(missing)} (scripts/setup.sh --test installs them)")
    x = Xvfb(tmp_path)
    try:
        yield x
    finally:
        x.stop()


def _queue_line(stack: Stack, agent: str) -> str:
    out = hotline(stack.config, "asterisk", "cli", "queue show hotline").stdout
    return next((line for line in out.splitlines() if f"PJSIP/{agent})" in line or f"PJSIP/{agent} " in line), "")


@pytest.mark.parametrize(("lang", "agent"), [("zh", "1015"), ("en", "1016")])
def test_desktop_entry_point_signs_in_on_x11_and_goes_ready(
    stack: Stack, xvfb: Xvfb, tmp_path: Path, lang: str, agent: str
) -> None:
    assert ENTRY_POINT.is_file(), f"no console script at {ENTRY_POINT} (scripts/setup.sh installs it)"
    add_user(stack.config, agent, "agent", PASSWORD)
    hotline(stack.config, "asterisk", "cli", f"queue remove member PJSIP/{agent} from hotline")
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}  # scripts/test.sh sets offscreen
    env.update(DISPLAY=xvfb.display, QT_DEBUG_PLUGINS="0")
    log = tmp_path / "desktop.log"
    desktop = subprocess.Popen(
        [str(ENTRY_POINT), "-c", str(stack.config), "desktop", "--lang", lang, "--draft-file", str(tmp_path / "d")],
        cwd=tmp_path,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )
    sign_in_title, main_title = TITLES[lang]
    try:
        dialog = wait_for(
            lambda: desktop.poll() is None and xvfb.window(f"{sign_in_title}$"), 30, f"the sign-in ({log})"
        )
        xvfb.run("xdotool", "windowfocus", "--sync", dialog)
        xvfb.run("xdotool", "type", "--delay", "20", agent)
        xvfb.run("xdotool", "key", "Tab")
        xvfb.run("xdotool", "type", "--delay", "20", PASSWORD)
        xvfb.run("xdotool", "key", "Return")
        main = wait_for(lambda: xvfb.window(f"^{main_title}$"), 20, f"the main window after sign-in ({log})")
        wait_for(lambda: "paused" in _queue_line(stack, agent).lower() or None, 20, f"{agent} paused in the queue")

        def press_ready() -> str | None:
            """F2 (就绪 / Ready) into the focused main window, as often as it takes: the button is enabled only
            once the desktop has the agent's state, which it may not have the moment the window appears."""
            xvfb.run("xdotool", "windowfocus", "--sync", main)
            xvfb.run("xdotool", "key", "F2")
            line = _queue_line(stack, agent)
            return line if line and "paused" not in line.lower() else None

        line = wait_for(press_ready, 20, f"{agent} ready in Asterisk's queue", interval=1)
        assert "Not in use" in line or "In use" in line or "Unavailable" in line, line
        xvfb.screenshot(SHOTS / f"desktop_x11_ready_{lang}.png")
        assert desktop.poll() is None, log.read_text(errors="replace")
    except AssertionError as exc:
        xvfb.screenshot(SHOTS / f"desktop_x11_failed_{lang}.png")  # what the screen showed, to see why
        focus = xvfb.run("xdotool", "getwindowfocus", "getwindowname").stdout
        raise AssertionError(
            f"{exc}\nX focus: {focus}\ndesktop log:\n{log.read_text(errors='replace')[-3000:]}"
        ) from exc
    finally:
        desktop.terminate()
        desktop.wait(timeout=15)
        hotline(stack.config, "asterisk", "cli", f"queue remove member PJSIP/{agent} from hotline")
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "Could not load the Qt platform plugin" not in text, text
