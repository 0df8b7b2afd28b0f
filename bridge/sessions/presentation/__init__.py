"""What a session shows, with no actor in it: Discord payloads (``render``), the view of a
turn (``view``), permission prompts (``prompts``), the appended system prompt
(``system_prompt``) and usage lines and thread names (``usage``).

The actors of ``bridge.sessions`` (session, router, coordinator, limiter) decide; these
modules only build what they send.
"""
