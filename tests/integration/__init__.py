"""Integration tests: one adapter against a peer on loopback or in memory (the store on mongomock, MockupDB
or a real MongoDB; the Cronofy gateway against the sandbox or a scripted fake), and the sandbox itself."""
