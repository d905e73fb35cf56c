"""Hostile inputs: malformed events, forged payloads, injections, bombs, fuzzing and secrets.

Every case states the correct behaviour. Where the bot does not behave yet, the test is marked
``xfail(strict=True)`` with the bug in its reason; see docs/hostile.md for the whole table.
"""
