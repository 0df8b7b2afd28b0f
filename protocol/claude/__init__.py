"""Sans-IO Claude Code CLI: stream-json events, control protocol, argv and session files."""
