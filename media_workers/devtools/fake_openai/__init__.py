"""A stand-in for OpenAI's Realtime Translation API, for demo mode and tests."""
