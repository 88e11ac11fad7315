"""The review gate: thresholds (`config`), the pure decision (`decision`), the two sides'
searches with equal effort (`climbs`), measuring both sides like with like (`measure`), a
side at a git revision (`revision`), and its outputs for CI (`outputs`)."""
