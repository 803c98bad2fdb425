"""Unit tests: pure logic, fast, no server, database or subprocess."""
