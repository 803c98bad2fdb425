"""Persistence in MongoDB: one repository per collection, all built on one database handle."""

from .connections import ConnectionStore
from .link_states import LinkStateStore
from .meetings import MeetingStore
from .mongo import StoreUnavailable, close_client, describe_uri, is_ready, open_client, prepare
from .rate_budget import MongoRateBudget
from .revocations import RevocationStore
from .user_limits import MongoUserRateLimit

__all__ = [
    "ConnectionStore",
    "LinkStateStore",
    "MeetingStore",
    "MongoRateBudget",
    "MongoUserRateLimit",
    "RevocationStore",
    "StoreUnavailable",
    "close_client",
    "describe_uri",
    "is_ready",
    "open_client",
    "prepare",
]
