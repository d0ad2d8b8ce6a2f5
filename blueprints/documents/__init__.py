"""Documents: files clients upload and files the practice shares with them.

The file pipeline is a library here: `files` (check, disarm, scan an upload), `storage` (encrypted,
per-practice objects on disk or S3) and `export` (a practice's files in an encrypted archive).
"""
