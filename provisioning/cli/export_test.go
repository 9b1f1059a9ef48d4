package cli

// AuditExportPage lets the external tests shrink the export page size.
var AuditExportPage = &auditExportPage
