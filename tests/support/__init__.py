"""What the tests share, imported as `tests.support.<module>`; the fixtures built on it are in conftest.py files.

clock       FakeClock, the one test clock (the API's and the sandbox's)
api         Api, the GraphQL client over HTTP, and the identity the API under test is configured with
sandbox     the sandbox app factory, serving on loopback, its control client and its OAuth steps
browser     the consent page as a browser sees it: ConsentForm and consent(...)
documents   GraphQL documents used by more than one test module
factories   flows through the API: linking a calendar, scheduling a meeting
counting    CountingDatabase, for the tests that count MongoDB commands
"""
