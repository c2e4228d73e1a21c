"""Trained models shipped with loco (``drums.pt``, ``piano.pt``) and their cards; see README.md here."""
