"""The widgets of ``sigchat-server``'s Textual app, one per module.

They draw the session model (``tui.model``) and never read clocks, ``/proc``
or signals; text from other processes goes through ``tui.text``.
"""
