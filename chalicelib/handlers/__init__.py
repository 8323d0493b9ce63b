"""Entry points that no HTTP request starts: stream and queue consumers and schedules,
declared with `chalicelib.entrypoints`, one Blueprint per concern. Each imports what it
needs inside its handler, so a cold API process pays nothing for them."""
