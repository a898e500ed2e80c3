"""Payloads for the injection eval that address the *reader* of a document, not an assistant:
requests to hand over credentials and lures to "verify" an account with an outside party
(label 1), and benign contact and password wording (label 0) that must still answer."""
