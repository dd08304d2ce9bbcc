"""URL path converters shared by every app's URL conf (registered in ``CoreConfig.ready``)."""

# The largest value a signed 64-bit column holds: every id column here is at most that.
MAX_ID = 2**63 - 1


def parse_id(value: str) -> int:
    """An id from a URL: decimal digits, at most ``MAX_ID``; ValueError otherwise.

    Past 64 bits no row can have the id, and SQLite refuses to bind the value at all
    (OverflowError, a 500), so such ids are refused before any lookup.
    """
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"not an id: {value!r}")
    number = int(value)
    if number > MAX_ID:
        raise ValueError(f"id out of range: {value!r}")
    return number


class IdConverter:
    """``<id:pk>``: Django's ``int`` converter bounded to 64 bits. A value out of range
    does not match the route (ValueError from ``to_python``), so it answers 404."""

    regex = "[0-9]{1,20}"

    def to_python(self, value: str) -> int:
        return parse_id(value)

    def to_url(self, value) -> str:
        return str(value)
