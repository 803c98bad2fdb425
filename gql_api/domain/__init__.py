"""The domain: meetings, their calendar copies, connections and the rules between them.

No I/O and no framework here (no Strawberry, aiohttp, httpx, bson or pymongo): plain values and
functions, so every rule can be unit-tested in microseconds and read without the machinery around it.
"""
