"""What differs per database: connecting (connections) and running a command on an
asyncio driver (event_loop).

Imports only the adapter and the top level.
"""
