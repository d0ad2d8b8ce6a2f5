"""Pages of session rooms: `settings` (/settings/video), `account` (/account/room), `join`."""
