"""Moved to tests/support/qa_calls.py; kept for tests/desktop/test_qa_view.py, which imports it from here."""

from tests.support.qa_calls import WATER_SENTENCES, seed

__all__ = ["WATER_SENTENCES", "seed"]
