"""Errors of the recordings and transcription domain. Each carries a stable `error_id` (stored on a failed
job, shown to QA staff and admins) and says whether retrying the same job could help."""

from __future__ import annotations


class RecordingError(Exception):
    """Base of every recordings error."""

    error_id = "recording_error"
    retryable = False


class AudioEmptyError(RecordingError):
    """The file holds no audio samples (a header only, or zero bytes)."""

    error_id = "audio_empty"


class AudioCorruptError(RecordingError):
    """The file is not a readable WAV file (bad header, truncated data)."""

    error_id = "audio_corrupt"


class AudioUnsupportedError(RecordingError):
    """A readable WAV file in a format the decoder does not take (sample size, channels, rate, codec)."""

    error_id = "audio_unsupported"


class RecordingMissingError(RecordingError):
    """The recording file is not there (yet): retried, since Asterisk may still be closing it."""

    error_id = "recording_missing"
    retryable = True


class RecordingFailedError(RecordingError):
    """The recording failed its check when the call ended (recordings.verify: a file missing, 0 bytes, a
    header only, truncated); a job made for it meanwhile (a worker's sweep) is failed with this."""

    error_id = "recording_failed"


class ModelError(RecordingError):
    """The speech model directory is not configured, missing or not a Vosk model."""

    error_id = "speech_model_unavailable"


class LeaseLostError(RecordingError):
    """This worker's lease on a job expired and another worker took the job: its result is dropped."""

    error_id = "lease_lost"


class WorkerLostError(RecordingError):
    """A job's worker stopped renewing its lease (killed, crashed) as many times as attempts are allowed."""

    error_id = "worker_lost"
