"""Helpers every test suite may import: people, rooms, calls, the stack. No suite imports another's."""
