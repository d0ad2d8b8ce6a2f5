"""Rules of documents, by subject: `access` (who sees which document), `uploads` (client uploads,
files staff share, the scan and its retries), `library` (the practice's shared documents),
`downloads` (the audited way bytes leave), `review` (staff marking and archiving)."""
