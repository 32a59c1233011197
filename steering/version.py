"""The release number of gan-steering (written into every file it makes)."""

__version__ = "0.2.0"
