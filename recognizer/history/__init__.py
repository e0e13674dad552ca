"""Per-session history: stored results, the result cache, thumbnails, exports and purge."""
