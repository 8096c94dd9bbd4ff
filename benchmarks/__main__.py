"""``python -m benchmarks [--quick] [--out DIR] [--no-jax] [--repeats K]``."""

from .run import main

if __name__ == "__main__":
    main()
