"""The sans-IO core: wire format, native sender and server, classic minitalk.

Nothing in ``sigchat.proto`` sends a signal, reads a clock, starts a thread or
touches the OS: symbols and the current time go in, symbols and events come
out (docs/ARCHITECTURE.md; a test checks the imports). docs/PROTOCOL.md is the
spec. Modules: ``base`` (records), ``wire`` (format, timers, turbo words),
``sender``, ``events`` (events and statistics), ``server``, and ``classic/``
(``profile``, ``server``, ``policy``, ``sender``).

This package imports nothing itself, so a sender loads only what it uses;
``sigchat.proto.api`` has every name in one namespace, for tests and scripts.
"""
