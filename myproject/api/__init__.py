"""The REST resources under /api."""
