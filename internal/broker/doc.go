// Package broker runs an embedded, in-process Kafka-protocol broker for the
// demo (`worker demo`) and for tests.
//
// It wraps github.com/twmb/franz-go/pkg/kfake, a fake Kafka cluster that
// speaks the real wire protocol, so the production client code in
// internal/queue (segmentio/kafka-go) runs against it unchanged. The broker is
// a single node listening on 127.0.0.1; [Broker.Addrs] returns the address to
// hand to clients.
//
// # Persistence
//
// [WithDataDir] uses kfake's built-in persistence: topics, record segments
// and consumer-group state (committed offsets included) are written to the
// directory as the broker runs, and a later [Start] with the same directory
// reloads them, so a second demo run resumes where the first one stopped.
// Limits, acceptable for a demo and not for production: record segments are
// written without fsync (the OS page cache is trusted until a segment roll or
// [Broker.Close]), so a machine crash can lose the newest records; a clean
// [Broker.Close] flushes everything. The on-disk format is kfake's and may
// change between kfake versions.
//
// # Session timeouts
//
// Like Kafka, kfake rejects consumer-group session timeouts below
// group.min.session.timeout.ms (6 s by default). Tests that want fast
// rebalances lower it with [WithGroupMinSessionTimeout].
package broker
