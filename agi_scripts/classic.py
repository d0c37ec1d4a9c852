#!/usr/bin/python3
"""The start-up probe as a classic AGI script (pyst2): Asterisk forks a new interpreter for each call.

The twin of the FastAGI route `probe` (agi_scripts/probe.py), step for step: Asterisk's clock when the
first command arrives, the survey's channel variables, `PROBE_FIRST` set. It exists to measure what classic
AGI costs per call (`benchmarks/bench_agi.py`); the platform's scripts run over FastAGI. It runs with the
Python beside Asterisk (inside the Debian root when there is one), so it imports only pyst2 and the
standard library; install it as `<astagidir>/hotline-probe.py` with pyst2 (and six) beside it.
"""

from asterisk.agi import AGI  # type: ignore[import-untyped]

CLOCK = "${STRFTIME(,,%s.%6q)}"
VARIABLES = ("CHANNEL(linkedid)", "HOTLINE_SOUNDS", "PROMPT_LANG")


def main() -> None:
    agi = AGI()
    first = agi.get_full_variable(CLOCK)
    for name in VARIABLES:
        agi.get_variable(name)
    agi.set_variable("PROBE_FIRST", first)


if __name__ == "__main__":
    main()
