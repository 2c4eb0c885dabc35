"""The benchmark (``make bench``): the app against the machine's own floor. Not part of the test suite."""
