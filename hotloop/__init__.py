"""The composition roots: the `hotloop` command line (cli), the ASGI app factory (app), the demo, and the
wiring of chat ports (chats). The only place that imports every layer; nothing imports it."""
