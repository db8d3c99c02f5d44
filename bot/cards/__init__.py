"""What a card shows, platform-neutral: the card model (model), building it from an alert (views), and
making customer text safe and short (text)."""
