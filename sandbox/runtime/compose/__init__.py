"""The Docker Compose runtime (see runtime.py); rendering, images and the engine live beside it."""

from sandbox.runtime.compose.runtime import ComposeRuntime

__all__ = ["ComposeRuntime"]
