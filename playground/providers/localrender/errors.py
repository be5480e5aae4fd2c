"""The one exception the local renderer raises for problems a person can fix."""


class RenderError(Exception):
    """Bad input files (unreadable image or video) or an impossible request.

    The message is meant to be shown to the person who submitted the request,
    so it names the problem in plain words and never carries a traceback.
    """
