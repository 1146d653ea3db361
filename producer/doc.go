// Command producer publishes documents to Kafka as JSON batches
// (schemas/batch.schema.json) for `worker run` to annotate.
//
//	producer pubmed [flags] FILES|DIRS...   PubMed baseline/update XML (.xml, .xml.gz)
//	producer jsonl  [flags] FILES|DIRS...   JSON lines {"id","text"} (+ title, version, op)
//
// With --manifest, a rerun over the same directory publishes only new files
// and resumes a half-published one after its last acknowledged batch (the
// nightly refresh). Rejected records go to --rejects as JSON lines. Every
// flag has an environment twin (NERSTREAM_<FLAG>); see `producer CMD -h`.
package main
