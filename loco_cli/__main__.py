"""``python -m loco_cli`` runs the ``loco`` command-line interface."""

from loco_cli.cli import main

if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    main()
