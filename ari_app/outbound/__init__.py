"""Click-to-dial (外呼): an agent calls a citizen from a case (回访 and other calls about it) or from a
missed-call task (漏接回拨), from the desktop (`dial_citizen`, docs/protocol.md). ari_app.outbound.service
finds the number and places the call; ari_app.outbound.desk is its link request."""
