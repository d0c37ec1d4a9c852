"""The platform's database: SQLAlchemy 2 typed models and Alembic migrations.

Importing this package creates no engine; `schema.db.make_engine(url)` does, once, at wiring time.
"""

from schema.base import Base
from schema.callbacks import CallbackRequest
from schema.calls import CallRecord
from schema.cases import Case as Case  # registers every case-workflow model
from schema.conferences import ConferenceParticipant
from schema.missed import MissedCall
from schema.qa import QaScore
from schema.surveys import SurveyResponse
from schema.transcripts import Transcript as Transcript  # registers the transcription models
from schema.transfers import CallTransfer
from schema.users import Role, User
from schema.web import WebSession

__all__ = [
    "Base",
    "CallRecord",
    "CallTransfer",
    "CallbackRequest",
    "ConferenceParticipant",
    "MissedCall",
    "QaScore",
    "Role",
    "SurveyResponse",
    "User",
    "WebSession",
]
