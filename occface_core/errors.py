"""The one base class of the user's mistakes.

A source that does not open, missing weights, an unwritable output, a bad OSC target or a bad
calibration file each raise a subclass of `UserError` where they are found, with a one-line message
fit for the user. The CLI maps every `UserError` to `error: <message>` and exit status 2 in one place
(main.py); the window shows the message. Nothing re-wraps them on the way up.
"""
from __future__ import annotations


class UserError(Exception):
    """Bad user input; str(exc) is one line for the user, without a traceback."""
