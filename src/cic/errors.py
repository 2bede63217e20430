"""One exception type for problems in the user's input, reported as a single line."""


class InputError(Exception):
    """Bad user input: the message names the file, the row/column and the fix, on one line."""

    def __init__(self, path, problem: str, fix: str | None = None):
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        message = f"{self.path}: {problem}"
        if fix:
            message += f"; fix: {fix}"
        super().__init__(message.replace("\n", " "))
