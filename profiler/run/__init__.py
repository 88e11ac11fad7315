"""Running a target: options, the loaded target (`prepare`), the plan of an explicit grid,
and the adaptive sweep that spends the time budget."""
