"""MWAA's requirements install, reproduced offline: check, wheelhouse download, plugins.zip packaging."""
