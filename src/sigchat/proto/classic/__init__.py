"""Classic minitalk, sans-IO: ``profile`` (conventions, encoding), ``server`` (per-pid
decoders and the line), ``policy`` (which replies may be sent), ``sender``.

docs/PROTOCOL.md, "Classic minitalk clients", is the spec. This package imports
nothing itself; ``sigchat.proto.classic.api`` has every name in one namespace.
"""
