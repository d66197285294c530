class StoreUnavailable(Exception):
    """The source of truth could not record the change; nothing of it was committed."""


class CacheUnavailable(Exception):
    """The cache could not be read or written; the source of truth is unaffected."""


class CacheSkipped(CacheUnavailable):
    """The cache was not even tried: it failed moments ago, and waiting on it again would only slow the answer."""
