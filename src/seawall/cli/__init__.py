"""The operator CLI (Typer + Rich): parses, calls one engine function, renders, sets the exit code."""
