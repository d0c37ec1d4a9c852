"""The missed-call worklist (漏接回拨, 国办发〔2020〕53号: missed calls are called back): every hotline call missed
from a number that was not withheld becomes a callback task the agents work from a list.

A task opens when the tracker's CallEnded ends a hotline call that no agent answered (abandoned in the queue,
refused by admission control or shed under load, given up by the queue's timeout, lost at a resynchronisation:
`service.REASONS`). One number has at most one open task: a further miss of the same number joins it (`misses`)
and keeps its due time. No task for a withheld caller (there is no one to call), nor for a caller who pressed
the callback key (`callback_requested`), nor while the same number has a pending or dialling callback request:
the callback dialer (ari_app.callbacks) calls them back by itself; a request the dialer gave up on does not
open a task.

Due time: the first miss plus `callback.missed_target_minutes`; when that falls outside `callback.calling_hours`
(centre time) the task is due at the next opening (`MissedSettings.due`).

Closing: the citizen calls a hotline again and an agent answers (CallConnected): `closed_by_contact`; an agent
records an attempt (`missed_call_attempt`): `reached` closes it `called_back`, `wrong_number` closes it
`wrong_number`, `not_reached` leaves it open. An agent claims a task before calling (`claim_missed_call`): one
agent at a time, for `callback.missed_claim_minutes`, after which another may take it.

    service.py   the rules: tasks from stored calls, list / claim / attempt (audited), the in-time figure,
                 MissedCalls (the bus subscriber) and MissedCallChanged (its events)
    errors.py    the refusals and their error ids
    desk.py      the link's requests and the live `missed_call` push to agents and supervisors

The domain (service.py, errors.py) knows neither the link nor AMI (contract in pyproject.toml).
"""

from ari_app.missed.service import MissedCallChanged, MissedCalls, MissedSettings

__all__ = ["MissedCallChanged", "MissedCalls", "MissedSettings"]
