"""The audit trail as an examiner checks it, without trusting Custos: the canonical event
form (`canonical.py`), the offline verifier (`verify.py`) and the export format they read
(docs/audit-evidence.md). Standard library only: an export carries copies of both files."""
