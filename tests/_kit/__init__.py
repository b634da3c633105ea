"""The test kit: one key maker, one clock, one set of wire bodies, and each suite's helpers.

``tests/`` is on ``sys.path`` (pytest puts the root conftest's directory there), so test
modules import ``from _kit.keys import make_api_key`` and so on. Nothing here is a fixture:
fixtures stay in the conftest files and build on these.
"""
