"""Transfers (转接): blind and attended, to another agent or a number.

service.py   Transfers: the AMI moves, the state of each transfer and its record (call_transfers)
desk.py      the link side: the `transfer` request, the target's screen-pop and `transfer_state` pushes
"""

from ari_app.transfers.service import Transfer, TransferError, TransferKind, Transfers, TransferState

__all__ = ["Transfer", "TransferError", "TransferKind", "TransferState", "Transfers"]
