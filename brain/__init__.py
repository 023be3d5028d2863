"""The stateless brain: an ASGI server that turns questions into typed answers, plans and playbooks.

It stores nothing between requests and never receives credentials.
"""
