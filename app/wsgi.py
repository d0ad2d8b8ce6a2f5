"""The WSGI entry point for gunicorn (`portico serve`)."""

from app import create_app

app = create_app()
