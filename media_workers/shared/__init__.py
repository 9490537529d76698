"""What the web tier and the media worker share: importable without aiortc, av, aioice or openai."""
