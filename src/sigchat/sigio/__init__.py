"""The I/O layer: the only code that touches signals, ``/proc``, CPUs and ctypes.

``masks`` (blocking, the symbol <-> signal mapping), ``procfs`` (what another
process's ``/proc`` tells), ``cpus`` (placement), ``words`` (turbo words through
ctypes), ``link`` (one peer process: send it symbols, wait for its replies),
``send`` and ``send_classic`` (the send loops), ``receiver`` (the server's
receiver thread). Each drives a sans-IO object of ``sigchat.proto``; policy
stays there. This package imports nothing itself.
"""
