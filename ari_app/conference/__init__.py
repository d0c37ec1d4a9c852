"""Three-way calls (三方通话): the agent brings a cooperating unit into the call.

service.py   ThreeWay: the AMI moves into a ConfBridge room and the participants' record
desk.py      the link side: the `conference` request and `conference_state` pushes
"""

from ari_app.conference.service import ConferenceError, ThreeWay, participants

__all__ = ["ConferenceError", "ThreeWay", "participants"]
