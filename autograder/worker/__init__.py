"""The channel to student code: the client (grader side), the wire protocol, and the program that runs inside the sandbox."""
