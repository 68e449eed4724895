"""The Docker Compose runtime. Not built yet: every operation says so instead of doing nothing."""

from __future__ import annotations

from sandbox.errors import NotSupportedInRuntime
from sandbox.runtime.base import Runtime

_MESSAGE = "the compose runtime is not available in this version of mwaa-sandbox"
_HINT = "use --runtime native (the default when no Docker engine answers)"


class ComposeRuntime(Runtime):
    name = "compose"

    def _unsupported(self, *args, **kwargs):
        raise NotSupportedInRuntime(_MESSAGE, hint=_HINT)

    is_up = preflight = prepare = start = down = reset = status = endpoints = log_path = _unsupported
