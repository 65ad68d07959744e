"""The read side: what pages, exports and reports show. Nothing here writes to the database.

A query module answers one kind of page (a resident's history and dashboard, the upcoming payments,
an admin's payment operations, the audit log, the metrics); the rules it shows come from
``webapp.services``, so a page can never disagree with what the money path does.
"""
