"""In-call scripts Asterisk runs through AGI.

FastAGI (panoramisk's `fast_agi`) rather than classic AGI (pyst2): the scripts run inside the CTI server's
own process and environment, on the host, with the database and config already open; Asterisk reaches them
at `agi://127.0.0.1:4573/<name>?secret=<the FastAGI secret>` (agi_scripts.server runs nothing without it).
A classic AGI script would run inside Asterisk's Debian root with that root's Python, and start a new
interpreter per call.
"""
