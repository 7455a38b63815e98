"""What runs in a notebook kernel: ``check()``, ``question()``, the verdict display and plots."""
