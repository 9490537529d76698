"""Tools for development and tests: never imported by the runtime or the web tier."""
