"""ferry's QAPI generator: QEMU's schema dialect to C and Markdown."""
