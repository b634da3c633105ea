"""The test kit: one key maker, one clock, one adapter factory, one set of wire bodies, and
each suite's helpers.

``tests/`` is on ``sys.path`` (pytest puts the root conftest's directory there), so test
modules import ``from _kit.keys import make_api_key`` and so on. Fixtures stay in the
conftest files and build on these, except the ones several suites share
(``_kit.vertex_fixtures``), which each of those conftests imports by name.
"""
