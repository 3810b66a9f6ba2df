"""Values a request carries in its query string or form fields, read defensively: whatever
a visitor types there, the answer is a value or None, never an exception further down."""

MAX_ID = 2**63 - 1  # the largest primary key: SQLite's INTEGER and PostgreSQL's bigint


def parse_id(raw) -> int | None:
    """An object id, or None: decimal digits only (``"²"`` passes ``isdigit`` but ``int``
    refuses it) and within a database integer (a longer number would make the database
    driver raise instead of finding nothing)."""
    raw = str(raw if raw is not None else "").strip()
    if not raw.isdecimal() or len(raw) > 19:
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


def parse_ids(values) -> list[int]:
    """The ids among ``values`` (checked boxes, a multi-valued parameter); the rest dropped."""
    return [i for i in map(parse_id, values) if i is not None]
