"""Database upkeep that keeps query plans good."""

from django.db import connection

# After this many new rows the planner's statistics are refreshed.
ANALYZE_AFTER_ROWS = 10_000


def refresh_planner_statistics() -> None:
    """Without statistics SQLite's planner guesses, and on a scoped, sorted list it guesses
    badly: it reads a whole county's people and sorts them (≈170 ms) instead of walking the
    primary key and stopping after one page (≈6 ms). ANALYZE gives it the numbers; on
    PostgreSQL autovacuum does this too, but a bulk load should not wait for it."""
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
