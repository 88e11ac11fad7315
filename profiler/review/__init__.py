"""The review gate: thresholds (`config`), the pure decision (`decision`), measuring both
sides as deployed (`measure`), and its outputs for CI (`outputs`)."""
