"""Call tracking: the call state machine, the tracker that feeds it from Asterisk events, its store."""
