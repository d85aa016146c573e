"""Races on real PostgreSQL transactions: each action on its own connection, released by one barrier."""

import threading

from django.db import connections

from portal.errors import DomainError

# Each race is run this many times: a lost update shows up in a few of them, not in every one.
TRIALS = 15


def race(*actions) -> list[tuple[str, object]]:
    """Run the actions at the same moment, each in its own thread with its own database connection.

    Each outcome is ``("ok", return value)``, ``("refused", DomainError code)`` or ``("error", repr)``,
    in the order of the actions."""
    barrier = threading.Barrier(len(actions))
    outcomes: list = [None] * len(actions)

    def run(index, action):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("ok", action())
        except DomainError as error:
            outcomes[index] = ("refused", error.code)
        except Exception as error:
            outcomes[index] = ("error", repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, action)) for i, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes
