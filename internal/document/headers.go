package document

// Kafka record header names of batch messages: set by the producer on every
// published batch, and by the worker on the dead letter of a single invalid
// document (with HeaderDocIndex and HeaderDocID). The dead-letter writer adds
// its own nerstream-* headers (queue.HeaderError and the others).
const (
	HeaderBatchID       = "nerstream-batch-id"
	HeaderSchemaVersion = "nerstream-schema-version"
	HeaderSourceFile    = "nerstream-source-file"
	HeaderSourceRange   = "nerstream-source-range" // "first-last"
	HeaderDocs          = "nerstream-docs"
	HeaderContentType   = "content-type"
	HeaderDocIndex      = "nerstream-doc-index" // 0-based index of the document in its batch
	HeaderDocID         = "nerstream-doc-id"
	// HeaderDeadLetterKind says what a worker dead letter carries:
	// "document" (one document's JSON) or "record" (the record's value).
	HeaderDeadLetterKind = "nerstream-dead-letter-kind"
	// HeaderDeadLetterReason is the worker's DeadLetterReason.
	HeaderDeadLetterReason = "nerstream-dead-letter-reason"
)
