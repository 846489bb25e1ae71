"""What can be wrong with an owner's question.

Problem (httpkit.problems)
├── InvalidFilter        422: a filter names an unknown store or an impossible range
└── InvalidCursor        422: a page cursor this service did not give, or with an offset
"""

from __future__ import annotations

from httpkit.problems import Problem


class InvalidFilter(Problem):
    """A filter names an unknown store or an impossible date range."""

    status = 422
    title = "Invalid filter"


class InvalidCursor(Problem):
    """A page cursor this service did not give, or one sent together with an offset."""

    status = 422
    title = "Invalid cursor"
