"""Work caps per request, so one request cannot take the server's memory or minutes of CPU.

Issue 15 measured 45 s and 15.8 GB for one anonymous GET asking for distance-band weights
over fine H3 cells. The caps are checked before the work is done (a neighbour count needs
no pair list), and a request over one gets a 422 naming the cap and what to change.
"""

from __future__ import annotations

from geo.errors import InvalidRequest

#: Areas or H3 cells in one spatial analysis (the borough at H3 resolution 12 is ~100,000).
MAX_AREAS = 60_000
#: Neighbour pairs in one set of spatial weights (each pair costs ~50 bytes in the sparse matrix).
MAX_NEIGHBOUR_PAIRS = 3_000_000


def check_limit(what: str, value: int, limit: int, hint: str) -> None:
    """Raise InvalidRequest (422) when ``value`` exceeds ``limit``, naming both and a way out."""
    if value > limit:
        raise InvalidRequest(
            f"this request needs {value:,} {what}, over the limit of {limit:,} per request: {hint}"
        )
