"""What the test suites and the benchmarks share (`clock`: clocks a test moves by hand)."""
