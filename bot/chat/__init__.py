"""The `Chat` port the delivery worker speaks (port) and the chat adapters' database state: handled
deliveries, conversation references (state)."""
