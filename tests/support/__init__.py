"""What the test suites and the benchmarks share: waits on conditions (`waiting`), clocks a test moves by
hand (`clock`), databases on SQLite and PostgreSQL (`db`), users (`users`), the desktop link's fakes and
client (`link`) and its fixtures (`link_fixtures`), transfers on a hand-fed call tracker (`transfers`), the
case workflow's seeded world, flows and Open311 receivers (`cases`, `flows`), stored calls (`qa_calls`),
Qt input (`qt`), signed-in desktops (`desks`), Korean speech (`speech`), and the end-to-end stack: a real
Asterisk, the CTI server process and SIPp (`e2e`, `storm`).

Test modules import from here and never from each other; conftest.py files hold only fixtures, and take
the fixtures two folders share from here. `tests/unit/test_layers.py` checks it."""
