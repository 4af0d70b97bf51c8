"""The kernel of Opiekun: configuration, extensions, accounts, client companies and shared plumbing.

Nothing in this package imports `tickets` or `plans`; those domains stand on it.
"""
