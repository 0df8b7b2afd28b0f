"""Sans-IO protocol code: no sockets, no subprocesses, no clocks or randomness read implicitly.

``protocol.discord`` holds the Discord gateway state machine, REST routes and rate-limit
buckets, models and message chunking; ``protocol.claude`` holds the Claude Code CLI's
stream-json events, control protocol, command line and session files.
"""
