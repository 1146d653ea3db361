package main

import (
	"log/slog"

	"github.com/nerstream/nerstream/internal/document"
)

// checkWorkerLimits warns when the producer's limits exceed the limits
// workers use by default (document.DefaultLimits, the one shared source):
// such batches or documents reach workers that, unless started with the
// matching --max-batch-bytes/--max-docs-per-batch/--max-doc-bytes,
// dead-letter them per document.
func checkWorkerLimits(log *slog.Logger, batchDocs, batchBytes, maxDocBytes int) {
	d := document.DefaultLimits()
	if batchDocs > d.MaxDocs {
		log.Warn("--batch-docs exceeds the workers' default documents per batch: start every worker with --max-docs-per-batch at least this large, or its batches are dead-lettered per document",
			"batch_docs", batchDocs, "worker_default", d.MaxDocs)
	}
	if batchBytes > d.MaxBatchBytes {
		log.Warn("--batch-bytes exceeds the workers' default batch limit: start every worker with --max-batch-bytes at least this large, or its batches are dead-lettered per document",
			"batch_bytes", batchBytes, "worker_default", d.MaxBatchBytes)
	}
	if maxDocBytes > d.MaxDocBytes {
		log.Warn("--max-doc-bytes exceeds the workers' default document limit: start every worker with --max-doc-bytes at least this large, or larger documents are dead-lettered",
			"max_doc_bytes", maxDocBytes, "worker_default", d.MaxDocBytes)
	}
}
