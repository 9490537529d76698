"""The media worker's runtime: what ships and runs in the worker process."""
