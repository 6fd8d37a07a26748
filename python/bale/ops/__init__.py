"""One module per verb. The CLI and the Python API call these same functions."""
