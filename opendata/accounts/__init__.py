"""Accounts: users, memberships and API tokens."""
