"""Persistence in MongoDB: one repository per collection, all built on one database handle."""

from .change_feed import ChangeFeedStore
from .connections import ConnectionStore
from .erasures import ErasureStore
from .link_states import LinkStateStore
from .meetings import MeetingStore
from .mongo import StoreUnavailable, close_client, describe_uri, is_ready, open_client, prepare
from .rate_budget import MongoRateBudget
from .retention import RetentionStore, prepare_retention
from .revocations import RevocationStore
from .user_limits import MongoUserRateLimit

__all__ = [
    "ChangeFeedStore",
    "ConnectionStore",
    "ErasureStore",
    "LinkStateStore",
    "MeetingStore",
    "MongoRateBudget",
    "MongoUserRateLimit",
    "RetentionStore",
    "RevocationStore",
    "StoreUnavailable",
    "close_client",
    "describe_uri",
    "is_ready",
    "open_client",
    "prepare",
    "prepare_retention",
]
