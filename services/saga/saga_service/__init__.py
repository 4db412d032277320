"""The clearance saga: a process manager that releases each document when its prerequisites are declared."""
