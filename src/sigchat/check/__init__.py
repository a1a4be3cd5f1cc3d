"""``sigchat-check``: tests anyone's minitalk client or server and says what is wrong, from the signals.

``cases`` (what is checked), ``trace`` (the in-process server that keeps every
signal), ``processes`` (the programs a check starts), ``client`` and ``server``
(the two targets), ``diagnosis`` (the words), ``report`` (table, plain text,
JSON) and ``command`` (the CLI). This package imports nothing itself.
"""
