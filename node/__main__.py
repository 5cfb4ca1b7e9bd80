"""``python -m node`` runs the ``swapnet`` command line."""

from node.cli import main

main()
