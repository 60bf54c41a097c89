"""Studies: declarative grids of runs, a resumable runner (local pool or Ray), a SQLite store, an HTML
report."""
