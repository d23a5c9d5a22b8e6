"""Fees and payments: what a dossier owes (from the procedure's fees), how it was paid (cash or
transfer at the desk with an electronic receipt, or online through a payment platform), the
platform adapter and its signed callbacks, reconciliation, refunds, and a mock platform.

docs/PAYMENTS.md states the platform contract.
"""
