"""The "Sent mail" page: the host application's outgoing mail, read from a folder of `.eml`
files (StoreSync's embedded mode writes them to var/mail/). Imports only the standard library
and Starlette, like the rest of the sandbox."""
