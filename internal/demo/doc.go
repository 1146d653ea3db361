// Package demo is `make demo`: the whole nerstream system on one machine in
// one process tree — an embedded Kafka-protocol broker (internal/broker)
// persisted under a data directory, worker processes in one consumer group
// writing Parquet to a file:// bucket, and the producer over PubMed files —
// followed by a report: chunks of a few documents, a summary (documents,
// chunks per label, throughput, windows, slot utilization, output files,
// exact-span F1 against gold entities) and a DuckDB query for the output.
//
// With Config.Brokers (`worker demo --brokers`) the demo uses an external
// Kafka cluster instead of the embedded broker: `make demo KAFKA=apache`
// starts Apache Kafka with scripts/apache-kafka.sh for it.
//
// A second run over the same data directory resumes: the producer's manifest
// publishes nothing new and the workers find every record already covered by
// the stored files.
package demo
