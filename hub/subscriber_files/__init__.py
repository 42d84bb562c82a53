"""Subscriber files (SPEC §6): parse.py reads one file, sync.py applies a folder
to the database, watch.py keeps applying it while a worker runs.
"""
