"""The one exception type the public API raises for bad input or unusable checkpoints."""


class ExplainerError(ValueError):
    """A problem the caller can fix; the message names it and says what to do.

    Any other exception escaping the public API is a bug.
    """
