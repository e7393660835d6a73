"""Signing in and staying signed in: passwords kept apart from the user row, server-side
sessions, single-use emailed links (invitations, sign-up, password reset), the OAuth connect
states bound to a session, and sign-in throttling."""
