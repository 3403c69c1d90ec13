"""Sessions in the database, as Django keeps them, with one more check.

Django accepts any cookie value of eight characters or more as a session key
and looks it up; a NUL byte in it then reaches PostgreSQL, which refuses the
query (a 500). Keys Django makes are letters and digits, so anything else is
treated as no session, like an unknown key.
"""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key):
        return bool(key) and len(key) >= 8 and key.isascii() and key.isalnum()
