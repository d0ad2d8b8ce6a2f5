"""The rules of session rooms: `video` (the practice's video service), `rooms` (links, joining)."""
