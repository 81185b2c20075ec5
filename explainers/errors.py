"""The one exception type the public API raises for bad input or unusable checkpoints."""


class ExplainerError(ValueError):
    """A problem the caller can fix; the message names it and says what to do.

    Any other exception escaping the public API is a bug.
    """


def shown(value, width: int = 60) -> str:
    """``repr(value)`` as a message quotes user input: cut to ``width`` characters, since input can be
    huge, and an integer of thousands of digits, which Python refuses to write out, by its size."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of about {int(value.bit_length() * 0.30103):,} digits"
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__, or a container holding such an integer
        return f"a {type(value).__name__}"
    return text if len(text) <= width else text[:width - 1] + "…"
