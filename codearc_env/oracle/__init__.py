"""The differential-testing oracle."""
