"""Schema errors, reported as FILE:LINE: message like a compiler."""


class SourceInfo:
    """Where an expression or doc comment starts."""

    def __init__(self, fname, line, parent=None):
        self.fname = fname
        self.line = line
        self.parent = parent        # SourceInfo of the include directive

    def __str__(self):
        chain = ''
        parent = self.parent
        while parent:
            chain = 'In file included from %s:%d:\n' % (
                parent.fname, parent.line) + chain
            parent = parent.parent
        return '%s%s:%d' % (chain, self.fname, self.line)


class QAPIError(Exception):
    def __init__(self, info, msg):
        super().__init__(msg)
        self.info = info
        self.msg = msg

    def __str__(self):
        if self.info is None:
            return self.msg
        return '%s: %s' % (self.info, self.msg)
