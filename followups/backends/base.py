"""SMS backends, pluggable like Django's email backends (``SMS_BACKEND``).

A backend sends one outbox message: a template kind with ordered parameters
(mainland SMS is template-only) and returns the provider's message id. It
raises ``TransportError`` whose ``permanent`` says whether a retry can help.
"""


class TransportError(Exception):
    """``permanent``: no later attempt can help. ``uncertain``: the request
    may have reached the provider (the answer was lost), so resending could
    send twice; the outbox asks a person instead."""

    def __init__(self, message: str, *, permanent: bool = False, uncertain: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.uncertain = uncertain


class SmsBackend:
    name = "base"

    def send(self, message, *, text: str) -> str:
        raise NotImplementedError
