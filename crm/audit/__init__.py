"""The audit trail's pages: a record's history (a partial other pages include), an enterprise's history tab,
and the administrators' search with CSV and XLSX export. Recording lives in ``crm.core.audit``."""
