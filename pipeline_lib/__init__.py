"""mixpipe's shared library: every Snakemake rule runs one module of this package."""

__version__ = "0.1.0"
