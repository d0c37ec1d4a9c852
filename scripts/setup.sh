#!/usr/bin/env bash
# Install everything the platform and its tests need on a fresh Debian machine, idempotently:
# Debian packages (debootstrap for the Asterisk root, libmagic for attachments, SIPp, espeak-ng/sox for test
# speech, a CJK font, baresip for the desktop's softphone and the
# X11 libraries Qt's xcb platform plugin loads for the desktop; for the tests PostgreSQL, and Xvfb, xdotool and
# ImageMagick to run the desktop on a virtual screen, type into it and take screenshots, and Chromium for the
# web front's browser tests, driven by Playwright, which never downloads a browser of its own), then the
# project's virtual environment in .venv with its pinned packages.
# Usage: scripts/setup.sh [--test]    (--test adds the test tools and the test speech model)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

debs=(debootstrap sip-tester espeak-ng sox fonts-noto-cjk libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3)
debs+=(baresip-core)  # the desktop's softphone (cti_desktop/softphone.py)
# libmagic1: what an attachment is, from its bytes (python-magic loads it)
debs+=(libmagic1)
# what PySide6's platforms/libqxcb.so and libQt6XcbQpa.so.6 link to (ldd), for a desktop on a real X display
debs+=(libx11-6 libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
    libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0
    libxcb-xkb1 libxkbcommon-x11-0)
[ "$want_test" = 1 ] && debs+=(postgresql xvfb xdotool imagemagick chromium openssl)
missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
fi
extra=""
[ "$want_test" = 1 ] && extra="[test]"
stamp=".venv/.installed${extra}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing Python packages${extra:+ with test tools}"
    # (pip's notes about this machine's unused local index folders are noise; errors still show)
    .venv/bin/pip install -q --disable-pip-version-check -e ".${extra}" 2>&1 | { grep -v "^WARNING: Location" || true; }
    [ "${PIPESTATUS[0]}" = 0 ] || { echo "setup: pip install failed" >&2; exit 1; }
    touch "$stamp"
fi
