"""The Textual UI of ``sigchat-server``: the only package that imports Textual.

``model`` (the Textual-free session model), ``bridge`` (the receiver thread's
side), ``messages`` (what it posts), ``app`` (``SigchatApp`` and ``app.tcss``),
``widgets/`` (one per module), ``text`` (safe display and number formats),
``demo`` (a sample session for tests and screenshots). This package imports
nothing itself.
"""
