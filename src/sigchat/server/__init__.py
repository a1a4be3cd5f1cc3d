"""The server application without Textual: options, the event sink, plain and JSON output, records.

``options`` (the command line and what it builds), ``sink`` (the one place that
turns protocol events into deliveries: durable log first, then output),
``plain`` (stdout/stderr mode), ``records`` (the JSON format). The Textual UI
(``sigchat.tui``) builds on these; ``sigchat.serve`` picks one of the two. This
package imports nothing itself.
"""
