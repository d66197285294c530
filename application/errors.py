class StoreUnavailable(Exception):
    """The source of truth could not record the change; nothing of it was committed."""


class CacheUnavailable(Exception):
    """The cache could not be read or written; the source of truth is unaffected."""
